# Demo experiment (see _demo_base.py) with the r3d_18 model config.
include("_demo_base.py")
