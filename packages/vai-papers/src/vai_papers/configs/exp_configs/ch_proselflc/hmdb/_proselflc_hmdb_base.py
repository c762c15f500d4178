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
import torch
from vai_papers.proselflc import ProSelfLC

if loss_type not in ("ce", "proselflc"):
    raise ValueError(f"loss_type = {loss_type!r}; the ProSelfLC example trains 'ce' or 'proselflc'")

# per GPU: 32 clips of 8 x 224² (the verb-ambiguity HMDB batch); the LR follows the batch size
batch_size = 32
num_epochs = 60
model_kwargs = {"partial_bn": False, "dropout": 0.5}  # upstream's tsm_resnet50_nopartialbn
proselflc_exp_base = 1.0  # B, as upstream's last use

include("../../ch_verbambig/_tsm_e2e_recipe.py")


def get_criterion(split):
    if split != "train" or loss_type == "ce":
        return torch.nn.CrossEntropyLoss()
    return ProSelfLC(exp_base=proselflc_exp_base)  # Γ: set by vai-train from the run's length
