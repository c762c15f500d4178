# Verb ambiguity, end-to-end TSM-ResNet-50 run with the assume_negative loss (see the base).
loss_type = "assume_negative"
include("_epic100_verb_base.py")
