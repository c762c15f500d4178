# Verb ambiguity, end-to-end TSM-ResNet-50 run with the binary_focal loss (see the base).
loss_type = "binary_focal"
include("_epic100_verb_base.py")
