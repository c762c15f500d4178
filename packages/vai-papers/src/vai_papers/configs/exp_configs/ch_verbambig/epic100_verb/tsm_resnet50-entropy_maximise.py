# Verb ambiguity, end-to-end TSM-ResNet-50 run with the entropy_maximise loss (see the base).
loss_type = "entropy_maximise"
include("_epic100_verb_base.py")
