# Demo experiment (see _demo_base.py) with the swin3d_b model config.
include("_demo_base.py")
