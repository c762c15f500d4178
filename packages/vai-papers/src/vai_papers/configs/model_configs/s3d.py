# torchvision S3D: vai_models.create_model("s3d", ...).
MODEL_NAME = "s3d"
include("_vai_model.py")
input_mean = [0.43216, 0.394666, 0.37645]
input_std = [0.22803, 0.22145, 0.216989]
min_input_frames = 16
