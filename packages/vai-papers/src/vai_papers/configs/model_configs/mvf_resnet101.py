# MVFNet (multi-view fusion, alpha 0.5) on a torchvision ResNet-101 backbone.
MODEL_NAME = "mvf_resnet101"
include("_vai_model.py")
