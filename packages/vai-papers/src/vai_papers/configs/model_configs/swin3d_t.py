# torchvision Video Swin-T (swin3d_t): vai_models.create_model("swin3d_t", ...).
MODEL_NAME = "swin3d_t"
include("_vai_model.py")
