# Channel-sampling demo, RGB (baseline), with the tsn_resnet18 model config (see _channel_sampling_base.py).
sampling_mode = "RGB"
include("_channel_sampling_base.py")
