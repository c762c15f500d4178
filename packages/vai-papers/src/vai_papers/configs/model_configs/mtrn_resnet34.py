# MTRN (multi-scale temporal relation head) on a torchvision ResNet-34 backbone.
MODEL_NAME = "mtrn_resnet34"
include("_vai_model.py")
