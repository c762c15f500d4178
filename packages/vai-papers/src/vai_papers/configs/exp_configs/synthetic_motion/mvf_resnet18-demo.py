# Demo experiment (see _demo_base.py) with the mvf_resnet18 model config.
include("_demo_base.py")
