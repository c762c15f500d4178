# TSM (temporal shift, shift_div 8, blockres) on a torchvision ResNet-101 backbone.
MODEL_NAME = "tsm_resnet101"
include("_vai_model.py")
