# Verb ambiguity, feature run (MLP on the ce model's features) with the binary_focal loss (see the base).
loss_type = "binary_focal"
include("_epic100_verb_features_base.py")
