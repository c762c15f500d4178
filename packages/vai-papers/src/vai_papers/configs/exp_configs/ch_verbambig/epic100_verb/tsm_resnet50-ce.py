# Verb ambiguity, end-to-end TSM-ResNet-50 run with the ce loss (see the base).
loss_type = "ce"
include("_epic100_verb_base.py")
