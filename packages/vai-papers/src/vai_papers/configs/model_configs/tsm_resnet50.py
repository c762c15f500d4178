# TSM on a torchvision ResNet-50 backbone (vai_models.create_model("tsm_resnet50", ...)).
MODEL_NAME = "tsm_resnet50"
include("_vai_model.py")
