# I3D ResNet-50 without the temporal pool after res2 (upstream i3dnopool): vai_models.create_model("i3d_nopool_resnet50", ...).
MODEL_NAME = "i3d_nopool_resnet50"
include("_vai_model.py")
input_mean = [114.75, 114.75, 114.75]
input_std = [57.375, 57.375, 57.375]
input_normalise = False  # the weights expect raw [0, 255] pixels
