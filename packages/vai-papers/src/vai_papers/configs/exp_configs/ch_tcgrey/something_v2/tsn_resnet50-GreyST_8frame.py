# Channel sampling on something_v2, tsn_resnet50 with GreyST sampling (see _something_v2_base.py).
sampling_mode = "GreyST"
include("_something_v2_base.py")
