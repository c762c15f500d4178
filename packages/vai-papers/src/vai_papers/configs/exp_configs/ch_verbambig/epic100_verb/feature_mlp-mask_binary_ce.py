# Verb ambiguity, feature run (MLP on the ce model's features) with the mask_binary_ce loss (see the base).
loss_type = "mask_binary_ce"
include("_epic100_verb_features_base.py")
