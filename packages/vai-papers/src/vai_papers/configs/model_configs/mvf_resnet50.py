# MVFNet (multi-view fusion, alpha 0.5) on a torchvision ResNet-50 backbone.
MODEL_NAME = "mvf_resnet50"
include("_vai_model.py")
