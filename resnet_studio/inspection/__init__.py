"""Evaluation, classification of image files (and later activation taps and Grad-CAM)."""
