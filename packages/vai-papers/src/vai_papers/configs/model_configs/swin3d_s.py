# torchvision Video Swin-S (swin3d_s): vai_models.create_model("swin3d_s", ...).
MODEL_NAME = "swin3d_s"
include("_vai_model.py")
