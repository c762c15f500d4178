# ImageNet-style image classifier: torchvision ResNet-101 on T = 1 clips.
MODEL_NAME = "resnet101"
include("../_vai_model.py")
input_frame_length = 1
