# Channel sampling on cater_task2, mvf_resnet50 with RGB sampling (see _cater_task2_base.py).
sampling_mode = "RGB"
include("_cater_task2_base.py")
