# Demo experiment (see _demo_base.py) with the mvit_v2_s model config.
include("_demo_base.py")
