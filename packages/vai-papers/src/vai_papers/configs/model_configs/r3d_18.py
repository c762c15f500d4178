# torchvision R3D-18: vai_models.create_model("r3d_18", ...).
MODEL_NAME = "r3d_18"
include("_vai_model.py")
input_mean = [0.43216, 0.394666, 0.37645]
input_std = [0.22803, 0.22145, 0.216989]
