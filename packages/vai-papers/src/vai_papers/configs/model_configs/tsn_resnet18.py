# TSN on a torchvision ResNet-18 backbone (vai_models.create_model("tsn_resnet18", ...)).
MODEL_NAME = "tsn_resnet18"
include("_vai_model.py")
