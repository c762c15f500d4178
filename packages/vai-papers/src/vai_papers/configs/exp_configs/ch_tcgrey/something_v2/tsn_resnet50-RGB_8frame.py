# Channel sampling on something_v2, tsn_resnet50 with RGB sampling (see _something_v2_base.py).
sampling_mode = "RGB"
include("_something_v2_base.py")
