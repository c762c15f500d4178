# MVFNet (multi-view fusion, alpha 0.5) on a torchvision ResNet-18 backbone.
MODEL_NAME = "mvf_resnet18"
include("_vai_model.py")
