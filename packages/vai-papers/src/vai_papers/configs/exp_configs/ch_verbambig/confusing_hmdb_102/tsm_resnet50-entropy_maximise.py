# Verb ambiguity, end-to-end TSM-ResNet-50 run with the entropy_maximise loss (see the base).
loss_type = "entropy_maximise"
include("_confusing_hmdb_102_base.py")
