# Demo experiment (see _demo_base.py) with the trn_resnet18 model config.
include("_demo_base.py")
