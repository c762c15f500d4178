# Verb ambiguity, feature run (MLP on the ce model's features) with the entropy_maximise loss (see the base).
loss_type = "entropy_maximise"
include("_epic100_verb_features_base.py")
