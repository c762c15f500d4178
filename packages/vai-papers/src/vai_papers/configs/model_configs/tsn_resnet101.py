# TSN (average consensus over segments) on a torchvision ResNet-101 backbone.
MODEL_NAME = "tsn_resnet101"
include("_vai_model.py")
