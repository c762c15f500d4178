# Channel-sampling demo, TC+2, with the mtrn_resnet18 model config (see _channel_sampling_base.py).
sampling_mode = "TCPlus2"
include("_channel_sampling_base.py")
