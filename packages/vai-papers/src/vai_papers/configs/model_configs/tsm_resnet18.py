# TSM on a torchvision ResNet-18 backbone (vai_models.create_model("tsm_resnet18", ...)).
MODEL_NAME = "tsm_resnet18"
include("_vai_model.py")
