# Verb-ambiguity demo (BMVC 2022) on Confusing synthetic motion (see its dataset config): the shipped
# synthetic demo recipe (../../synthetic_motion/_demo_base.py) trained with one single-positive
# multi-label loss, scored on the multi-label validation split as the paper scores Confusing-HMDB-102.
# A per-loss file sets `loss_type` and includes this one; the pseudo-label losses (mask_binary_ce,
# pseudo_single_binary_ce) get kNN pseudo-labels from the current model's features, refreshed every
# `pseudo_label_period` epochs (vai_papers.verb_ambiguity.make_epoch_start_script). As in the paper's
# end-to-end runs, start them from a model trained with cross-entropy: train `ce_demo` first, then the
# others with VAI_PRETRAINED=<ce_demo run>/weights/best.pth (docs/papers.md, "Small CPU reproductions");
# from scratch the first refreshes come from untrained features and mislead the pseudo-label losses.
from vai_papers.verb_ambiguity import PSEUDO_LABEL_LOSSES, criterion_for_split, make_epoch_start_script

include("../../synthetic_motion/_demo_base.py")
include("../_verbambig_metrics.py")  # multilabel_metrics (the full-scale configs' list)

pseudo_label_period = 2  # 8 short epochs: refresh often (upstream: every 5 of many epochs)

# softmax for the single-label CE baseline, sigmoid for the binary (multi-label) losses
last_activation = "softmax" if loss_type == "ce" else "sigmoid"


def get_criterion(split):
    return criterion_for_split(loss_type, split, dataset_cfg.num_classes)


# training labels are single positives (or pseudo-label vectors): only validation is scored
metrics = {"train": [], "val": multilabel_metrics("val"), "multicropval": multilabel_metrics("multicropval")}
best_metric = metrics["val"][0]  # top-set accuracy, the paper's headline for end-to-end runs

if loss_type in PSEUDO_LABEL_LOSSES:
    epoch_start_script = make_epoch_start_script(
        get_torch_dataset,
        loss_type=loss_type,
        num_classes=dataset_cfg.num_classes,
        period=pseudo_label_period,
    )
