# MTRN (multi-scale temporal relation head) on a torchvision ResNet-101 backbone.
MODEL_NAME = "mtrn_resnet101"
include("_vai_model.py")
