# X3D-XS: vai_models.create_model("x3d_xs", ...).
MODEL_NAME = "x3d_xs"
include("_vai_model.py")
input_mean = [0.45, 0.45, 0.45]
input_std = [0.225, 0.225, 0.225]
