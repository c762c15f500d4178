# Demo experiment (see _demo_base.py) with the mtrn_resnet101 model config.
include("_demo_base.py")
