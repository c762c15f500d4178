# Channel sampling on something_v2, mtrn_resnet50 with TC sampling (see _something_v2_base.py).
sampling_mode = "TC"
include("_something_v2_base.py")
