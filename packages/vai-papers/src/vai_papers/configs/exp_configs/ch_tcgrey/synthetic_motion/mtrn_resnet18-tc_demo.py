# Channel-sampling demo, TC, with the mtrn_resnet18 model config (see _channel_sampling_base.py).
sampling_mode = "TC"
include("_channel_sampling_base.py")
