# Channel sampling on something_v2, mtrn_resnet50 with TCPlus2 sampling (see _something_v2_base.py).
sampling_mode = "TCPlus2"
include("_something_v2_base.py")
