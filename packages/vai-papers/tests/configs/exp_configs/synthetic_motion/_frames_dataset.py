# Included by the test exp configs: the demo's clips read from JPEG frame folders of the synthetic videos.
from vai_data import VideoClipDataset, make_synthetic_dataset


def frames_dataset(split, **options):
    """The split's ``VideoClipDataset`` over frame folders (made on first use), with the demo's sizes."""
    root = dataset_cfg.data_dir().parent / "synthetic_motion_frames"
    make_synthetic_dataset(
        root,
        num_videos=dataset_cfg.num_videos,
        num_frames=dataset_cfg.num_video_frames,
        size=dataset_cfg.frame_size,
        seed=dataset_cfg.seed,
        fmt="frames",
    )
    return VideoClipDataset(
        root / "splits" / dataset_cfg.split_file_basename[split].replace(".csv", "_frames.csv"),
        root,
        train=dataset_cfg.split2mode[split] == "train",
        num_frames=input_frame_length,
        crop_size=crop_size,
        scale_jitter=(40, 52),  # 48-pixel frames: every train crop but the 48 ones needs a resize
        test_scale=44,
        flip_label_map=dataset_cfg.flip_label_map(),
        mean=model_cfg.input_mean,
        std=model_cfg.input_std,
        normalise_on_device=True,
        seed=0,
        **options,
    )
