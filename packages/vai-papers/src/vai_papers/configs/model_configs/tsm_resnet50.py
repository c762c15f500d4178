# TSM (temporal shift, shift_div 8, blockres) on a torchvision ResNet-50 backbone.
MODEL_NAME = "tsm_resnet50"
include("_vai_model.py")
