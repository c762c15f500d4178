# TDN (temporal difference, 5 frames per segment) on a torchvision ResNet-50 backbone.
MODEL_NAME = "tdn_resnet50"
include("_vai_model.py")
input_frames_per_segment = 5  # each segment is a stack of 5 consecutive frames
