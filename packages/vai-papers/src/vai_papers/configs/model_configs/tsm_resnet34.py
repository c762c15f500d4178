# TSM (temporal shift, shift_div 8, blockres) on a torchvision ResNet-34 backbone.
MODEL_NAME = "tsm_resnet34"
include("_vai_model.py")
