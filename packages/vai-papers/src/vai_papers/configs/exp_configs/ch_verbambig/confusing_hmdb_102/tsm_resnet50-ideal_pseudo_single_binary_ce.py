# Verb ambiguity, end-to-end TSM-ResNet-50 run with the ideal_pseudo_single_binary_ce loss (see the base).
loss_type = "ideal_pseudo_single_binary_ce"
include("_confusing_hmdb_102_base.py")
