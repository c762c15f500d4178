# TSN on a torchvision ResNet-50 backbone (vai_models.create_model("tsn_resnet50", ...)).
MODEL_NAME = "tsn_resnet50"
include("_vai_model.py")
