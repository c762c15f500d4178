# Channel sampling on something_v1, trn_resnet50 with RGB sampling (see _something_v1_base.py).
sampling_mode = "RGB"
include("_something_v1_base.py")
