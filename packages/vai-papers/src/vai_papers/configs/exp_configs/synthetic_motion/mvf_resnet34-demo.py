# Demo experiment (see _demo_base.py) with the mvf_resnet34 model config.
include("_demo_base.py")
