"""Files in and out: model loaders (PyTorch, safetensors, Keras, ONNX), data, checkpoints, exports."""
