# Verb ambiguity, end-to-end TSM-ResNet-50 run with the ce loss (see the base).
loss_type = "ce"
include("_confusing_hmdb_102_base.py")
