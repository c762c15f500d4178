# The TSM-ResNet-50 end-to-end recipe of the verb-ambiguity paper's configs (upstream PyVideoAI's ch_verbambig
# "sparsesample_..._crop224_8frame_largejit_plateau"), shared by _verbambig_paper_base.py and the ProSelfLC
# example (../ch_proselflc/hmdb/_proselflc_hmdb_base.py); see their headers for the sources.
#
# Set before including this file: batch_size (per GPU), model_kwargs (partial BN, dropout of the TSM).
# Data: 8 frames per clip, sparse (TSN) sampling; train short side 224..336 ("largejit"), random 224 crop,
# horizontal flip where the dataset flips; val (and every other test split) short side 256, 1 centre crop;
# multicropval 10 crops (5 and their mirrors) where the dataset flips, else 1. `train_video_id_to_label(path)`
# (None here; a config that includes this one may define it) relabels the train rows.
# Model: TSM-ResNet-50 from the weights in $VAI_PRETRAINED, its classifier replaced by a freshly initialised
# one for this dataset's classes, as upstream replaced new_fc. Optimisation: SGD momentum 0.9, weight decay
# 5e-4, LR = min(5e-6 * batch_size * world_size, 5e-6 * 256) (upstream multiplied by world_size**2, a bug
# not kept), ReduceLROnPlateau (factor 0.1, patience 10) on val_loss; TSN-style parameter groups
# (vai_models.get_optim_policies, lr_mult/decay_mult not applied, as upstream). Mixed precision is off by
# default: add --amp to use it.
import logging
import os

import torch
import vai_models
from vai_data import VideoClipDataset
from vai_papers.distributed import world_size
from vai_train.schedulers import ReduceLROnPlateau

_logger = logging.getLogger(__name__)

input_frame_length = 8
crop_size = 224
train_scale_jitter = (224, 336)  # upstream's "largejit"
val_scale = 256
test_scale = 256
test_num_spatial_crops = 10 if dataset_cfg.horizontal_flip else 1
val_batch_size = batch_size
# loader processes per GPU: 8, half the cores of a 16-core one-GPU node, at most the CPU count (-w overrides)
num_workers = min(8, os.cpu_count() or 1)
base_learning_rate = 5e-6  # per sample, capped at 256 samples


def train_video_id_to_label(split_path):
    """Labels replacing the train rows' (None: the split file's); a config may define its own."""
    return None


def get_torch_dataset(split):
    """8 RGB frames per clip from the prepared dataset (see the header)."""
    train = dataset_cfg.split2mode[split] == "train"
    path = dataset_cfg.split_file(split)
    flip = dataset_cfg.horizontal_flip
    return VideoClipDataset(
        path,
        dataset_cfg.media_root(split),
        train=train,
        num_frames=input_frame_length,
        sampling="sparse",
        storage=dataset_cfg.resolve_storage(split),
        crop_size=crop_size,
        scale_jitter=train_scale_jitter,
        test_scale=test_scale if split == "multicropval" else val_scale,
        num_spatial_crops=test_num_spatial_crops if split == "multicropval" else 1,
        horizontal_flip=flip,
        flip_label_map=dataset_cfg.flip_label_map() if flip else None,
        mean=model_cfg.input_mean,
        std=model_cfg.input_std,
        normalise=model_cfg.input_normalise,
        bgr=model_cfg.input_bgr,
        video_id_to_label=train_video_id_to_label(path) if split == "train" else None,
        normalise_on_device=True,
    )


def load_model():
    if not os.environ.get("VAI_PRETRAINED"):
        _logger.warning(
            "VAI_PRETRAINED is not set: the TSM starts from random weights, not the paper's pretrained ones "
            "(ignore this when evaluating a trained run)"
        )
    model = model_cfg.load_model(dataset_cfg.num_classes, input_frame_length, **model_kwargs)
    model.reset_classifier(dataset_cfg.num_classes)  # a fresh classifier, as upstream's new_fc
    return model


def get_optim_policies(model):
    return vai_models.get_optim_policies(model)


def optimiser(params):
    lr = min(base_learning_rate * batch_size * world_size(), base_learning_rate * 256)
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)


def scheduler(optimiser, iters_per_epoch, last_epoch=-1):
    return ReduceLROnPlateau(optimiser, mode="min", factor=0.1, patience=10)
