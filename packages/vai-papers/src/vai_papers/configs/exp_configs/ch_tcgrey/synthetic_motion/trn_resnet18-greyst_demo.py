# Channel-sampling demo, GreyST, with the trn_resnet18 model config (see _channel_sampling_base.py).
sampling_mode = "GreyST"
include("_channel_sampling_base.py")
