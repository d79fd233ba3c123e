"""Training for the Fashion Space Explorer: models in PyTorch, exported to ONNX for the kiosk."""
