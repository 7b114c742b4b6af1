"""The Train workspace: Setup, the runs list, live plots and activations, rendering the training
controller (ui/common/training_controller.py)."""
