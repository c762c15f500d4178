# SlowFast ResNet-50 8x8 (alpha 4, beta 1/8); takes one clip, strides the slow path itself: vai_models.create_model("slowfast_resnet50", ...).
MODEL_NAME = "slowfast_resnet50"
include("_vai_model.py")
input_mean = [0.45, 0.45, 0.45]
input_std = [0.225, 0.225, 0.225]
