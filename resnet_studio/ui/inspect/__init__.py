"""The Inspect workspace: feature maps, Grad-CAM and the validation results of the model that answers."""
