# Demo experiment (see _demo_base.py) with the r2plus1d_18 model config.
include("_demo_base.py")
