# Channel sampling on cater_task2, mvf_resnet50 with TCPlus2 sampling (see _cater_task2_base.py).
sampling_mode = "TCPlus2"
include("_cater_task2_base.py")
