"""TorchScript, ONNX and standalone PyTorch source (to come)."""
