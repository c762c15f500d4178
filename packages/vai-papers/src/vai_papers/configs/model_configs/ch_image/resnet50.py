# ImageNet-style image classifier: torchvision ResNet-50 on T = 1 clips.
MODEL_NAME = "resnet50"
include("../_vai_model.py")
input_frame_length = 1
