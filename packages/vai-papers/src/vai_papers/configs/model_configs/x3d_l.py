# X3D-L: vai_models.create_model("x3d_l", ...).
MODEL_NAME = "x3d_l"
include("_vai_model.py")
input_mean = [0.45, 0.45, 0.45]
input_std = [0.225, 0.225, 0.225]
