# Demo experiment (see _demo_base.py) with the tsn_resnet34 model config.
include("_demo_base.py")
