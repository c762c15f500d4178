# ProSelfLC (Wang et al., CVPR 2021; vai_papers.proselflc) on HMDB-51, a full-scale example: upstream ships
# no current ProSelfLC config, so this pairs the `ce` baseline with `proselflc` on one recipe, the
# Confusing-HMDB-102 end-to-end one of the verb-ambiguity paper (../../ch_verbambig/_verbambig_paper_base.py)
# applied to plain HMDB-51. A per-loss file sets `loss_type` ("ce" or "proselflc") and includes this one:
#   export VAI_PRETRAINED=/path/to/resnet50-imagenet.pth   # or a Kinetics-400 TSM-ResNet-50 checkpoint
#   vai-train train -D hmdb -M tsm_resnet50 -c:e proselflc -E proselflc
#
# Model: TSM-ResNet-50, 8 segments, no partial BN, dropout 0.5, weights from $VAI_PRETRAINED with a fresh
# 51-class classifier. Data ($VAI_HMDB_ROOT, split $VAI_SPLITNUM): train short side 224..336, random 224
# crop, flip; val (test<k>.csv) short side 256, 1 crop; multicropval 10 crops. SGD momentum 0.9, weight
# decay 5e-4, LR = min(5e-6 * batch_size * world_size, 5e-6 * 256) (linear in world_size: upstream's
# world_size**2 was a bug, not kept), ReduceLROnPlateau (factor 0.1, patience 10) on val_loss,
# `num_epochs` = 60 epochs and no early stopping, so both losses train for the same, fixed time.
# ProSelfLC (as upstream's utils/losses/proselflc): train loss only (val and the other splits use cross-entropy); its
# global trust g = sigmoid(B (t / Γ - 0.5)) runs over the whole run: total_time is left unset, so
# vai-train sets Γ to the optimiser steps of the run it starts, from epoch 1 to `num_epochs` or -e
# (upstream's last use: Γ = (train size // batch size) x epochs), and B = 1 as that last use (g then only
# moves from 0.38 to 0.62). A run resumed with a larger -e gets the longer Γ and keeps its time.
# Mixed precision is off by default: add --amp to use it.
import logging
import os

import torch
import vai_models
from vai_data import VideoClipDataset
from vai_papers.distributed import world_size
from vai_papers.proselflc import ProSelfLC
from vai_train.schedulers import ReduceLROnPlateau

_logger = logging.getLogger(__name__)

if loss_type not in ("ce", "proselflc"):
    raise ValueError(f"loss_type = {loss_type!r}; the ProSelfLC example trains 'ce' or 'proselflc'")

input_frame_length = 8
# per GPU: 32 clips of 8 x 224² (the verb-ambiguity HMDB batch); the LR follows the batch size
batch_size = 32
val_batch_size = batch_size
# loader processes per GPU: 8, half the cores of a 16-core one-GPU node, at most the CPU count (-w overrides)
num_workers = min(8, os.cpu_count() or 1)
num_epochs = 60
crop_size = 224
train_scale_jitter = (224, 336)
val_scale = 256
test_scale = 256
test_num_spatial_crops = 10 if dataset_cfg.horizontal_flip else 1
base_learning_rate = 5e-6  # per sample, capped at 256 samples
proselflc_exp_base = 1.0  # B, as upstream's last use


def get_torch_dataset(split):
    train = dataset_cfg.split2mode[split] == "train"
    flip = dataset_cfg.horizontal_flip
    return VideoClipDataset(
        dataset_cfg.split_file(split),
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
        normalise_on_device=True,
    )


def load_model():
    if not os.environ.get("VAI_PRETRAINED"):
        _logger.warning(
            "VAI_PRETRAINED is not set: the TSM starts from random weights, not ImageNet/Kinetics ones "
            "(ignore this when evaluating a trained run)"
        )
    model = model_cfg.load_model(dataset_cfg.num_classes, input_frame_length, partial_bn=False, dropout=0.5)
    model.reset_classifier(dataset_cfg.num_classes)
    return model


def get_optim_policies(model):
    return vai_models.get_optim_policies(model)


def optimiser(params):
    # linear in world_size: upstream's world_size**2 was a bug (a bug not kept)
    lr = min(base_learning_rate * batch_size * world_size(), base_learning_rate * 256)
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)


def scheduler(optimiser, iters_per_epoch, last_epoch=-1):
    return ReduceLROnPlateau(optimiser, mode="min", factor=0.1, patience=10)


def get_criterion(split):
    if split != "train" or loss_type == "ce":
        return torch.nn.CrossEntropyLoss()
    return ProSelfLC(exp_base=proselflc_exp_base)  # Γ: set by vai-train from the run's length
