"""Base tiny experiment: SGD, 3 epochs, batch 8."""
# ruff: noqa: F821

import torch

batch_size = 8
val_batch_size = 10
num_epochs = 3
input_frame_length = 2
num_workers = 0


def get_torch_dataset(split):
    crops = 2 if split == "multicropval" else 1
    return dataset_cfg.TinyDataset(split, num_crops=crops)


def optimiser(params):
    return torch.optim.SGD(params, lr=0.05, momentum=0.9)
