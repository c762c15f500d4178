# MTRN (multi-scale temporal relation head) on a torchvision ResNet-50 backbone.
MODEL_NAME = "mtrn_resnet50"
include("_vai_model.py")
