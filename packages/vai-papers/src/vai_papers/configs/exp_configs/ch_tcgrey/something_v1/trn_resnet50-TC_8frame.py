# Channel sampling on something_v1, trn_resnet50 with TC sampling (see _something_v1_base.py).
sampling_mode = "TC"
include("_something_v1_base.py")
