# MVFNet (multi-view fusion, alpha 0.5) on a torchvision ResNet-34 backbone.
MODEL_NAME = "mvf_resnet34"
include("_vai_model.py")
