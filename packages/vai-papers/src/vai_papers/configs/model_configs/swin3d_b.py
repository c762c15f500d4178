# torchvision Video Swin-B (swin3d_b): vai_models.create_model("swin3d_b", ...).
MODEL_NAME = "swin3d_b"
include("_vai_model.py")
