# ImageNet-style image classifier: torchvision ResNet-34 on T = 1 clips.
MODEL_NAME = "resnet34"
include("../_vai_model.py")
input_frame_length = 1
