# Channel sampling on cater_task2, mvf_resnet50 with TC sampling (see _cater_task2_base.py).
sampling_mode = "TC"
include("_cater_task2_base.py")
