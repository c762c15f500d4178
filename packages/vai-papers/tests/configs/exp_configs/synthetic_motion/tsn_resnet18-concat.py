# The demo experiment trained on a ConcatDataset of the same split read twice, from the mp4 videos and from
# the JPEG frame folders: the engine finds the parts' shared collate_fn and device_transform (they are built
# alike, so they compare equal) and calls every part's set_epoch.
import vai_papers
from torch.utils.data import ConcatDataset

include(str(vai_papers.config_root() / "exp_configs" / "synthetic_motion" / "_demo_base.py"))
include("_frames_dataset.py")
video_dataset = get_torch_dataset  # (defined by the included file)


def get_torch_dataset(split):
    videos = video_dataset(split)
    if dataset_cfg.split2mode[split] != "train":
        return videos
    # as the videos: the parts of one batch must leave the same work to the device (both leave the flips
    # and the crops' resizes to it)
    frames = frames_dataset(split, normalise=model_cfg.input_normalise, bgr=model_cfg.input_bgr)
    assert frames.device_transform == videos.device_transform and frames.flip_on_device
    assert frames.resize_on_device and videos.resize_on_device
    return ConcatDataset([videos, frames])


include("_checked_inputs.py")  # the reshape, after checking each batch
