# TRN (single-scale temporal relation head) on a torchvision ResNet-18 backbone.
MODEL_NAME = "trn_resnet18"
include("_vai_model.py")
