# The shipped demo experiment read from JPEG frame folders: train crops leave their resize (and flip) to the
# device (resize_on_device, flip_on_device), DataLoader workers hand over padded batches of crop regions.
import torch
import vai_papers
from vai_data import VideoClipDataset, make_synthetic_dataset

include(str(vai_papers.config_root() / "exp_configs" / "synthetic_motion" / "_demo_base.py"))

num_workers = 1  # the padded batches cross a process boundary (shared memory), as in real training


def get_torch_dataset(split):
    root = dataset_cfg.data_dir().parent / "synthetic_motion_frames"
    make_synthetic_dataset(
        root,
        num_videos=dataset_cfg.num_videos,
        num_frames=dataset_cfg.num_video_frames,
        size=dataset_cfg.frame_size,
        seed=dataset_cfg.seed,
        fmt="frames",
    )
    train = dataset_cfg.split2mode[split] == "train"
    ds = VideoClipDataset(
        root / "splits" / dataset_cfg.split_file_basename[split].replace(".csv", "_frames.csv"),
        root,
        train=train,
        num_frames=input_frame_length,
        crop_size=crop_size,
        scale_jitter=(40, 52),  # 48-pixel frames: every train crop but the 48 ones needs a resize
        test_scale=44,
        flip_label_map=dataset_cfg.flip_label_map(),
        mean=model_cfg.input_mean,
        std=model_cfg.input_std,
        normalise_on_device=True,
        seed=0,
    )
    assert ds.resize_on_device == ds.flip_on_device == train  # the defaults this config is here to test
    return ds


def get_input_reshape_func(split):
    """The model's reshape, after checking that every batch reaching it was resized to the crop size."""
    reshape = getattr(model_cfg, "NCTHW_to_model_input_shape", None) or (lambda x: x)

    def checked(inputs):
        if tuple(inputs.shape[-2:]) != (crop_size, crop_size) or inputs.dtype != torch.float32:
            raise AssertionError(f"{split} batch of {tuple(inputs.shape)} {inputs.dtype} reached the model")
        return reshape(inputs)

    return checked
