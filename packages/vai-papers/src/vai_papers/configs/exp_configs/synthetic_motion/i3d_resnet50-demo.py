# Demo experiment (see _demo_base.py) with the i3d_resnet50 model config.
include("_demo_base.py")
