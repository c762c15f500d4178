# Verb ambiguity, end-to-end TSM-ResNet-50 run with the assume_negative loss (see the base).
loss_type = "assume_negative"
include("_confusing_hmdb_102_base.py")
