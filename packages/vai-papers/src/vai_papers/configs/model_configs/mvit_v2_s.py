# torchvision MViT-v2-S: vai_models.create_model("mvit_v2_s", ...).
MODEL_NAME = "mvit_v2_s"
include("_vai_model.py")
input_mean = [0.45, 0.45, 0.45]
input_std = [0.225, 0.225, 0.225]
