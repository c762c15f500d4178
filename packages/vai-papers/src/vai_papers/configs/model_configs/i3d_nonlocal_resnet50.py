# I3D ResNet-50 with non-local blocks (PySlowFast I3D-NL 8x8): vai_models.create_model("i3d_nonlocal_resnet50", ...).
MODEL_NAME = "i3d_nonlocal_resnet50"
include("_vai_model.py")
input_mean = [114.75, 114.75, 114.75]
input_std = [57.375, 57.375, 57.375]
input_normalise = False  # the weights expect raw [0, 255] pixels
