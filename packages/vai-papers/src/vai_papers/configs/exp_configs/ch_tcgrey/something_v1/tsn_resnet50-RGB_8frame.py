# Channel sampling on something_v1, tsn_resnet50 with RGB sampling (see _something_v1_base.py).
sampling_mode = "RGB"
include("_something_v1_base.py")
