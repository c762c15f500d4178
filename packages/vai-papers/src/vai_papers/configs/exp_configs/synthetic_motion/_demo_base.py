# The demo experiment on the synthetic motion dataset: small frames, 8 TSN segments, a few epochs,
# trained from scratch on CPU.  Per-model files (`<model>-demo.py`) include this one.
import torch
from vai_data import VideoClipDataset

batch_size = 16
val_batch_size = 32
num_epochs = 8
# 8 segments (TSN-style models) or an 8-frame clip (3D models); a model config may ask for more
input_frame_length = max(8, getattr(model_cfg, "min_input_frames", 8))
# TDN reads a stack of consecutive frames per segment: sampled as neighbours of each segment's frame
frames_per_segment = getattr(model_cfg, "input_frames_per_segment", 1)
crop_size = 40
num_workers = 0  # decoding 48px clips is cheap; a worker process would compete for the 2 cores


def clip_dataset(split, **overrides):
    """Training clips with scale jitter + flip (labels swapped by the flip map); centre crop for val.
    ``overrides`` replace VideoClipDataset arguments (configs that include this one change a few)."""
    root = dataset_cfg.ensure_data()
    kwargs = dict(
        train=dataset_cfg.split2mode[split] == "train",
        num_frames=input_frame_length,
        sampling="sparse",
        crop_size=crop_size,
        scale_jitter=(40, 52),
        test_scale=44,
        num_spatial_crops=3 if split == "multicropval" else 1,
        num_neighbours=frames_per_segment - 1,
        horizontal_flip=dataset_cfg.horizontal_flip,
        flip_label_map=dataset_cfg.flip_label_map(),
        mean=model_cfg.input_mean,
        std=model_cfg.input_std,
        normalise=model_cfg.input_normalise,
        bgr=model_cfg.input_bgr,
        # workers hand over uint8 clips; the engine normalises each batch on its device
        normalise_on_device=True,
        seed=0,
    )
    kwargs.update(overrides)
    return VideoClipDataset(root / "splits" / dataset_cfg.split_file_basename[split], root, **kwargs)


def get_torch_dataset(split):
    return clip_dataset(split)


def load_model():
    # from scratch on a small dataset: lighter dropout than TSN/TSM's ImageNet-finetuning defaults
    return model_cfg.load_model(dataset_cfg.num_classes, input_frame_length, dropout=0.2)


def optimiser(params):
    return torch.optim.AdamW(params, lr=2e-3, weight_decay=1e-4)


def scheduler(optimiser, iters_per_epoch, last_epoch=-1):
    # per-iteration cosine decay over the whole run
    return torch.optim.lr_scheduler.CosineAnnealingLR(
        optimiser, T_max=num_epochs * iters_per_epoch, last_epoch=last_epoch
    )
