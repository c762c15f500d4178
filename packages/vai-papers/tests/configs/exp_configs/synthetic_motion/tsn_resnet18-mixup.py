# The shipped demo experiment (uint8 clips normalised on the device) with mixup/CutMix on the training batches.
import torch
import vai_papers
from vai_data.transforms import MixupCutmixCollate

include(str(vai_papers.config_root() / "exp_configs" / "synthetic_motion" / "_demo_base.py"))


def get_collate_fn(split):
    if split != "train":
        return None  # the dataset's own collate
    return MixupCutmixCollate(dataset_cfg.num_classes, generator=torch.Generator().manual_seed(0))
