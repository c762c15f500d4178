# Channel sampling on cater_task2, mvf_resnet50 with GreyST sampling (see _cater_task2_base.py).
sampling_mode = "GreyST"
include("_cater_task2_base.py")
