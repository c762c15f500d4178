# Verb ambiguity, feature run (MLP on the ce model's features) with the ideal_mask_binary_ce loss (see the base).
loss_type = "ideal_mask_binary_ce"
include("_confusing_hmdb_102_features_base.py")
