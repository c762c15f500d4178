# Train the shipped ch_image/resnet18 model config on a tiny image split.
import os
from pathlib import Path

from vai_data import ImageDataset

batch_size = 4
num_epochs = 1


def get_torch_dataset(split):
    root = Path(os.environ["VAI_TEST_IMAGES"])
    return ImageDataset(
        root / f"{split}.csv",
        root,
        train=split == "train",
        crop_size=32,
        scale_jitter=(36, 40),
        test_scale=36,
        mean=model_cfg.input_mean,
        std=model_cfg.input_std,
    )
