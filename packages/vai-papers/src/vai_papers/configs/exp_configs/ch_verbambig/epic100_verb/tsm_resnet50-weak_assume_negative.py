# Verb ambiguity, end-to-end TSM-ResNet-50 run with the weak_assume_negative loss (see the base).
loss_type = "weak_assume_negative"
include("_epic100_verb_base.py")
