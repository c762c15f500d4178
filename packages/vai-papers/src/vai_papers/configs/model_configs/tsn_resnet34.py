# TSN (average consensus over segments) on a torchvision ResNet-34 backbone.
MODEL_NAME = "tsn_resnet34"
include("_vai_model.py")
