# TRN (single-scale temporal relation head) on a torchvision ResNet-101 backbone.
MODEL_NAME = "trn_resnet101"
include("_vai_model.py")
