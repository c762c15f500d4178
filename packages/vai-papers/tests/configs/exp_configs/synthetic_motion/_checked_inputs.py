# Included by the test exp configs: the model's reshape, after checking that every batch reaching it was
# finished on the device (resized to the crop size, normalised to float32).
import torch


def get_input_reshape_func(split):
    reshape = getattr(model_cfg, "NCTHW_to_model_input_shape", None) or (lambda x: x)

    def checked(inputs):
        if tuple(inputs.shape[-2:]) != (crop_size, crop_size) or inputs.dtype != torch.float32:
            raise AssertionError(f"{split} batch of {tuple(inputs.shape)} {inputs.dtype} reached the model")
        return reshape(inputs)

    return checked
