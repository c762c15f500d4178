# Channel sampling (Kim et al., BMVC 2022) at full scale: the recipe shared by the per-dataset bases
# (something_v1/_something_v1_base.py, something_v2/_something_v2_base.py, cater_task2/_cater_task2_base.py),
# after upstream PyVideoAI's ch_tcgrey "sparsesample_<mode>_crop224_8frame_largejit_plateau_10scrop" configs.
#
# Set before including this file (the dataset base does):
#   sampling_mode          RGB, TC, TCPlus2 or GreyST (the per-(model, mode) file sets it)
#   input_frame_length     T, the model's segments (8 for Something-Something, 32 for CATER)
#   batch_size             per GPU; the learning rate scales with it
#   partial_bn_models      the model configs trained with partial BN and the plateau recipe below;
#   nopartialbn_models     {model: MultiStepLR milestones in epochs} trained without partial BN
#   plateau_multiple       True: ReduceLROnPlateauMultiple (CATER, Diving48), False: ReduceLROnPlateau
#
# What the loader does (vai_papers.channel_sampling.frames_to_sample): T frames (RGB, TC), T+2 (TCPlus2) or
# 3T greyscale (GreyST) per clip; each batch is reordered on the device into (N, 3, T, H, W) model input.
# Spatial processing ("largejit"): train short side drawn from 224..336, random 224 crop, flip when the
# dataset allows it; val (and any other test split) short side 256, one centre crop; multicropval short
# side 256 with 10 crops (5 crops and their mirrors) when the dataset flips, else 1 crop, as upstream's
# test_num_spatial_crops (Something-Something does not flip: its multi-crop evaluation is the 1-crop val).
#
# Optimisation, from upstream's ch_tcgrey configs:
#   models in partial_bn_models (TSN/TRN/MTRN; TSM/MVF on CATER): ImageNet weights, partial BN, SGD momentum
#     0.9, weight decay 5e-4, LR = min(5e-5 * batch_size * world_size, 5e-5 * 256), ReduceLROnPlateau
#     (factor 0.1, patience 10) stepped on val_loss (ReduceLROnPlateauMultiple, which also counts the best
#     metric as progress, where plateau_multiple is set)
#   models in nopartialbn_models (TSM/MVF on Something-Something, upstream's "_nopartialbn" configs): no
#     partial BN, dropout 0.5, SGD momentum 0.9, weight decay 5e-4, LR = 0.01/64 * batch_size * world_size,
#     gradient clipping at norm 20, MultiStepLR (x0.1 at the milestones, stepped per iteration)
#   all: early stopping when neither val_loss nor the best metric improved for 20 epochs; at most 1000
#     epochs (vai-train's default, as upstream); TSN-style parameter groups (vai_models.get_optim_policies;
#     their lr_mult/decay_mult tags are not applied, as upstream's optimiser did not apply them either).
# Upstream multiplied the LR by world_size**2 (a bug not kept): here it scales linearly with
# the number of processes (WORLD_SIZE of torchrun), i.e. with the total batch size.
#
# ImageNet weights: set $VAI_PRETRAINED to a local ImageNet ResNet-50 checkpoint (e.g. torchvision's
# resnet50 weights file; vai_models converts the keys); without it the model starts from random weights
# (a warning says so). Mixed precision is off as in upstream's exp configs: add --amp to use it.
import logging
import os

import torch
import vai_models
from vai_data import VideoClipDataset
from vai_papers import channel_sampling
from vai_papers.distributed import world_size
from vai_train.schedulers import ReduceLROnPlateau, ReduceLROnPlateauMultiple, multistep_lr

_logger = logging.getLogger(__name__)

crop_size = 224
train_scale_jitter = (224, 336)  # upstream's "largejit"
val_scale = 256
val_num_spatial_crops = 1
test_scale = 256
# multicropval: 10 crops (5 and their mirrors) for datasets that flip; Something-Something does not flip, so
# upstream's test used 1 crop there (its mirrored views would swap "left"/"right" classes)
test_num_spatial_crops = 10 if dataset_cfg.horizontal_flip else 1
val_batch_size = batch_size
# loader processes per GPU: 8, half the cores of a 16-core one-GPU node, at most the CPU count (-w overrides)
num_workers = min(8, os.cpu_count() or 1)
early_stopping_patience = 20
num_epochs = 1000

plateau_base_lr = 5e-5  # per sample, capped at 256 samples (partial-BN recipe)
nopartialbn_base_lr = 0.01 / 64  # per sample, uncapped (TSM/MVF "_nopartialbn" recipe)
nopartialbn_clip_grad = 20.0

_model_name = model_cfg.MODEL_NAME
if _model_name in nopartialbn_models:
    _recipe = "nopartialbn"
elif _model_name in partial_bn_models:
    _recipe = "partialbn"
else:
    raise ValueError(
        f"channel sampling on {dataset_cfg.dataset_name}: no paper recipe for model {_model_name!r}; "
        f"the paper trains {', '.join([*partial_bn_models, *nopartialbn_models])}"
    )
clip_grad_max_norm = nopartialbn_clip_grad if _recipe == "nopartialbn" else None

# what the loader samples for the mode: T, T+2 or 3T grey frames
channel_frames = channel_sampling.frames_to_sample(sampling_mode, input_frame_length)


def learning_rate():
    """The paper's LR rule for this model; linear in world_size (upstream's world_size**2 was a bug)."""
    if _recipe == "nopartialbn":
        return nopartialbn_base_lr * batch_size * world_size()
    return min(plateau_base_lr * batch_size * world_size(), plateau_base_lr * 256)


def get_torch_dataset(split):
    """Sparse (TSN) sampling of the mode's frames from the prepared dataset (see the header)."""
    train = dataset_cfg.split2mode[split] == "train"
    grey = channel_frames.greyscale
    flip = dataset_cfg.horizontal_flip
    return VideoClipDataset(
        dataset_cfg.split_file(split),
        dataset_cfg.media_root(split),
        train=train,
        num_frames=channel_frames.num_frames,
        sampling="sparse",
        storage=dataset_cfg.resolve_storage(split),
        crop_size=crop_size,
        scale_jitter=train_scale_jitter,
        test_scale=test_scale if split == "multicropval" else val_scale,
        num_spatial_crops=test_num_spatial_crops if split == "multicropval" else val_num_spatial_crops,
        horizontal_flip=flip,
        flip_label_map=dataset_cfg.flip_label_map() if flip else None,
        mean=channel_sampling.GREY_MEAN if grey else model_cfg.input_mean,
        std=channel_sampling.GREY_STD if grey else model_cfg.input_std,
        normalise=model_cfg.input_normalise,
        bgr=model_cfg.input_bgr and not grey,
        greyscale=grey,
        # workers hand over uint8 clips; the engine normalises (and flips, resizes) each batch on the GPU
        normalise_on_device=True,
    )


# reorder each batch on the device into the model's (N, 3, T, H, W) input
get_input_reshape_func = channel_sampling.input_reshape_hook(
    sampling_mode, input_frame_length, getattr(model_cfg, "NCTHW_to_model_input_shape", None)
)


def load_model():
    if not os.environ.get("VAI_PRETRAINED"):
        _logger.warning(
            "VAI_PRETRAINED is not set: %s starts from random weights, not ImageNet's as in the paper "
            "(ignore this when evaluating a trained run)",
            _model_name,
        )
    if _recipe == "nopartialbn":
        return model_cfg.load_model(
            dataset_cfg.num_classes, input_frame_length, partial_bn=False, dropout=0.5
        )
    return model_cfg.load_model(dataset_cfg.num_classes, input_frame_length, partial_bn=True)


def get_optim_policies(model):
    return vai_models.get_optim_policies(model)


def optimiser(params):
    return torch.optim.SGD(params, lr=learning_rate(), momentum=0.9, weight_decay=5e-4)


def scheduler(optimiser, iters_per_epoch, last_epoch=-1):
    if _recipe == "nopartialbn":
        return multistep_lr(optimiser, iters_per_epoch, nopartialbn_models[_model_name], 0.1, last_epoch)
    if plateau_multiple:
        return ReduceLROnPlateauMultiple(optimiser, metric_mode="max", factor=0.1, patience=10)
    return ReduceLROnPlateau(optimiser, mode="min", factor=0.1, patience=10)
