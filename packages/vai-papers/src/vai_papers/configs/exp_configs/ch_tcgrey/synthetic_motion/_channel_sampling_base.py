# Channel sampling (BMVC 2022; vai_papers.channel_sampling) on the synthetic motion demo: the demo's model,
# optimiser and schedule, with the loader sampling what the mode needs (T, T+2 or 3T grey frames) and the
# batch reordered on the device into the (N, 3, T, H, W) clips the 2D model takes.
# A per-model file sets `sampling_mode` ("RGB", "TC", "TCPlus2", "GreyST", ...) and includes this one.
from vai_papers import channel_sampling

include("../../synthetic_motion/_demo_base.py")

# input_frame_length (from the demo base, 8) stays the model's T; the loader samples channel_frames.
# GreyST's 24 frames exceed the synthetic videos' 16: the sparse sampler repeats frames, as upstream's
# does for short videos (the paper's datasets have longer videos)
channel_frames = channel_sampling.frames_to_sample(sampling_mode, input_frame_length)


def get_torch_dataset(split):
    """The demo's clips (see _demo_base.py) with the mode's frame count; grey modes read 1-channel frames."""
    if not channel_frames.greyscale:
        return clip_dataset(split, num_frames=channel_frames.num_frames)
    return clip_dataset(
        split,
        num_frames=channel_frames.num_frames,
        greyscale=True,
        mean=channel_sampling.GREY_MEAN,
        std=channel_sampling.GREY_STD,
        bgr=False,
    )


# reorder each batch on the device, then the model config's own reshape if it has one
get_input_reshape_func = channel_sampling.input_reshape_hook(
    sampling_mode, input_frame_length, getattr(model_cfg, "NCTHW_to_model_input_shape", None)
)
