# Demo experiment (see _demo_base.py) with the s3d model config.
include("_demo_base.py")
