# TSN (average consensus over segments) on a torchvision ResNet-18 backbone.
MODEL_NAME = "tsn_resnet18"
include("_vai_model.py")
