# X3D-M: vai_models.create_model("x3d_m", ...).
MODEL_NAME = "x3d_m"
include("_vai_model.py")
input_mean = [0.45, 0.45, 0.45]
input_std = [0.225, 0.225, 0.225]
