# Channel sampling on something_v1, trn_resnet50 with TCPlus2 sampling (see _something_v1_base.py).
sampling_mode = "TCPlus2"
include("_something_v1_base.py")
