# Demo experiment (see _demo_base.py) with the x3d_m model config.
include("_demo_base.py")
