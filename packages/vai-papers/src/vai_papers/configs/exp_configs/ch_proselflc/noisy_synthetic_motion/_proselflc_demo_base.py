# ProSelfLC demo (CVPR 2021) on noisy synthetic motion (40 % symmetric label noise in the training split,
# see its dataset config): the shipped synthetic demo recipe (../../synthetic_motion/_demo_base.py) with
# the training loss set by `loss_type` ("ce" baseline or "proselflc"); validation labels are clean and
# scored with cross-entropy. ProSelfLC's time runs over the whole run: total_time is left unset, so
# vai-train sets Γ to the optimiser steps of the run it starts (`num_epochs`, or -e; a run resumed with a
# larger -e gets the longer Γ and keeps its time).
import torch
from vai_papers.proselflc import ProSelfLC

include("../../synthetic_motion/_demo_base.py")

# twice the demo's epochs: label noise hurts once a model starts fitting the wrong labels, which the
# 8-epoch demo recipe barely reaches; the cosine decay spans the 16 epochs
num_epochs = 16

# B of the global trust g = sigmoid(B (t/Γ - 0.5)): with 8, g grows from 0.02 to 0.98 over the run,
# so the model first learns from the given labels and trusts its own predictions late
proselflc_exp_base = 8.0


def get_criterion(split):
    if split != "train" or loss_type == "ce":
        return torch.nn.CrossEntropyLoss()
    return ProSelfLC(exp_base=proselflc_exp_base)  # Γ: set by vai-train from the run's length
