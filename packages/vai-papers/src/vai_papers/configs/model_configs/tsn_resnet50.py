# TSN (average consensus over segments) on a torchvision ResNet-50 backbone.
MODEL_NAME = "tsn_resnet50"
include("_vai_model.py")
