# Verb ambiguity, feature run (MLP on the ce model's features) with the ce loss (see the base).
loss_type = "ce"
include("_epic100_verb_features_base.py")
