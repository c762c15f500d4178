# Channel sampling on something_v1, tsn_resnet50 with GreyST sampling (see _something_v1_base.py).
sampling_mode = "GreyST"
include("_something_v1_base.py")
