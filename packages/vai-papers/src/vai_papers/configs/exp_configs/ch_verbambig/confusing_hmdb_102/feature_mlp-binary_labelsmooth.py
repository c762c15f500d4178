# Verb ambiguity, feature run (MLP on the ce model's features) with the binary_labelsmooth loss (see the base).
loss_type = "binary_labelsmooth"
include("_confusing_hmdb_102_features_base.py")
