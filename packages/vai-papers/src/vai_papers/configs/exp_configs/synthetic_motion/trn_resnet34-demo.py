# Demo experiment (see _demo_base.py) with the trn_resnet34 model config.
include("_demo_base.py")
