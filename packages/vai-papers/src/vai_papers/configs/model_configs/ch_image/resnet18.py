# ImageNet-style image classifier: torchvision ResNet-18 on T = 1 clips.
MODEL_NAME = "resnet18"
include("../_vai_model.py")
input_frame_length = 1
