"""Multi-label tiny experiment (BCE + sigmoid + mAP defaults)."""
# ruff: noqa: F821

include("../tiny/tinynet-base.py")


def get_torch_dataset(split):
    return dataset_cfg.TinyMulti(split, num_crops=2 if split == "multicropval" else 1)
