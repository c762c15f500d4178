# Verb ambiguity (BMVC 2022) at full scale, end-to-end runs: the recipe shared by
# epic100_verb/_epic100_verb_base.py and confusing_hmdb_102/_confusing_hmdb_102_base.py, after upstream
# PyVideoAI's ch_verbambig "sparsesample_..._crop224_8frame_largejit_plateau" and neighbour_multilabel configs.
#
# Set before including this file (the dataset base does, then defines `metrics` and `best_metric`):
#   loss_type        the per-loss file's: ce, assume_negative, weak_assume_negative, binary_labelsmooth,
#                    binary_negative_labelsmooth, binary_focal, entropy_maximise, mask_binary_ce,
#                    pseudo_single_binary_ce, or (Confusing-HMDB-102) ideal_mask_binary_ce /
#                    ideal_pseudo_single_binary_ce (vai_papers.verb_ambiguity)
#   batch_size, num_epochs, model_kwargs (partial BN, dropout of the TSM-ResNet-50)
#
# Model: TSM-ResNet-50 (8 segments) from the weights in $VAI_PRETRAINED (EPIC-100 TSM for EPIC-Kitchens,
# ImageNet or Kinetics for Confusing-HMDB-102), its classifier replaced by a freshly initialised one for
# this dataset's classes, as upstream replaced new_fc.
# Data: 8 frames per clip, sparse (TSN) sampling; train short side 224..336 ("largejit"), random 224 crop,
# horizontal flip; val (and every other test split) short side 256, 1 centre crop; multicropval 10 crops
# (5 and their mirrors). Loss (upstream's ch_verbambig): `loss_type` on train; on the other splits the
# pseudo-label losses are scored with assume_negative, the others with themselves
# (vai_papers.verb_ambiguity.criterion_for_split). Sigmoid outputs for every loss, as upstream's
# Confusing-HMDB configs: the ranking metrics (top-1/top-5, top-set, top-1 multi-label) are the same as
# with softmax, and IoU, F1 and mAP are computed on sigmoid outputs as upstream's metrics did.
# Pseudo-labels (mask_binary_ce, pseudo_single_binary_ce): every `pseudo_label_period` = 5 epochs (and at
# the first epoch a process trains) the current model's features of the training videos in test mode
# (traindata_testmode) give K = $VAI_NUM_NEIGHBOURS (15) nearest neighbours and the classes above
# tau = $VAI_PSEUDOLABEL_THR (0.1) become pseudo-positives (make_epoch_start_script); each refresh is saved
# to the run's predictions/pseudo_labels/. The ideal_* losses instead take the true twin class c +- 51
# as the pseudo-positive (ideal_targets), fixed for the whole run.
# Optimisation (upstream): SGD momentum 0.9, weight decay 5e-4, LR = min(5e-6 * batch_size * world_size,
# 5e-6 * 256), ReduceLROnPlateau (factor 0.1, patience 10) on val_loss, early stopping when neither
# val_loss nor the best metric improved for 20 epochs; TSN-style parameter groups
# (vai_models.get_optim_policies, lr_mult/decay_mult not applied, as upstream). Upstream multiplied the LR
# by world_size**2 (a bug not kept): here it scales linearly with the number of processes.
# Mixed precision is off by default: add --amp to use it. The data, model and optimiser parts live in
# _tsm_e2e_recipe.py (shared with the ProSelfLC example).
from vai_data import read_split_file
from vai_papers.verb_ambiguity import (
    PSEUDO_LABEL_LOSSES,
    base_loss_type,
    criterion_for_split,
    ideal_targets,
    make_epoch_start_script,
    to_video_id_to_label,
)

include("_tsm_e2e_recipe.py")

early_stopping_patience = 20
pseudo_label_period = 5

base_loss_type(loss_type)  # an unknown loss_type fails when the config loads, with the valid names
_ideal = loss_type.startswith("ideal_")
_pseudo = base_loss_type(loss_type) in PSEUDO_LABEL_LOSSES and not _ideal

include("_verbambig_metrics.py")


def train_video_id_to_label(split_path):
    """Confusing-HMDB's ideal pseudo-labels of the train rows: the true twin class as pseudo-positive."""
    if not _ideal:
        return None
    rows = read_split_file(split_path).rows
    targets = ideal_targets(
        [r.label for r in rows], loss_type, num_base_classes=dataset_cfg.num_classes // 2, copies=2
    )
    return to_video_id_to_label([r.video_id for r in rows], targets)


def get_criterion(split):
    return criterion_for_split(loss_type, split, dataset_cfg.num_classes)


if _pseudo:
    epoch_start_script = make_epoch_start_script(
        get_torch_dataset,
        loss_type=loss_type,
        num_classes=dataset_cfg.num_classes,
        period=pseudo_label_period,
    )
