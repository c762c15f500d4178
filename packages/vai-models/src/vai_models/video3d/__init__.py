"""3D-convolution and transformer video models (I3D, I3D-NL, SlowFast, X3D, torchvision video models)."""
