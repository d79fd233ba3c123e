"""Fashion Space Explorer kiosk: the runtime (onnxruntime + numpy + pygame, never torch)."""

__version__ = "0.1.0"
