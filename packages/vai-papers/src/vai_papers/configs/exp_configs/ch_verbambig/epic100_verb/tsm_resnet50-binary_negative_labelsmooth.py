# Verb ambiguity, end-to-end TSM-ResNet-50 run with the binary_negative_labelsmooth loss (see the base).
loss_type = "binary_negative_labelsmooth"
include("_epic100_verb_base.py")
