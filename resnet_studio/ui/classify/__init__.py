"""The Classify workspace: images dropped or pasted, answered with their top classes."""
