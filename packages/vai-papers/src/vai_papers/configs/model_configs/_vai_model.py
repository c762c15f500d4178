# Shared body of the model configs that build a vai_models registry model.
# A model config sets MODEL_NAME and includes this file:  include("_vai_model.py")
import os

from vai_models import create_model, get_model_builder

get_model_builder(MODEL_NAME)  # fail at config load, with close names, if the name is wrong

# ImageNet statistics on [0, 1] inputs (torchvision ResNets); datasets read these to normalise
input_normalise = True
input_bgr = False
input_mean = [0.485, 0.456, 0.406]
input_std = [0.229, 0.224, 0.225]
ddp_find_unused_parameters = False


def load_model(num_classes, input_frame_length, pretrained=None, **kwargs):
    """Build MODEL_NAME; ``pretrained`` (or $VAI_PRETRAINED) is a local checkpoint path."""
    pretrained = pretrained or os.environ.get("VAI_PRETRAINED") or None
    return create_model(
        MODEL_NAME, num_classes=num_classes, num_frames=input_frame_length, pretrained=pretrained, **kwargs
    )
