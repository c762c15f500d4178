# Verb ambiguity, feature run (MLP on the ce model's features) with the binary_labelsmooth loss (see the base).
loss_type = "binary_labelsmooth"
include("_epic100_verb_features_base.py")
