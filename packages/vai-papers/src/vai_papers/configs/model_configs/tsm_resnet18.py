# TSM (temporal shift, shift_div 8, blockres) on a torchvision ResNet-18 backbone.
MODEL_NAME = "tsm_resnet18"
include("_vai_model.py")
