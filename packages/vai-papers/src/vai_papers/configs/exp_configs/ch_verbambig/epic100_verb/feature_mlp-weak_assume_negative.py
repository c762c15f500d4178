# Verb ambiguity, feature run (MLP on the ce model's features) with the weak_assume_negative loss (see the base).
loss_type = "weak_assume_negative"
include("_epic100_verb_features_base.py")
