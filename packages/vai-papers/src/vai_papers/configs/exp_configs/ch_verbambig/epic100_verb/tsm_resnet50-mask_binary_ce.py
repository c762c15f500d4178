# Verb ambiguity, end-to-end TSM-ResNet-50 run with the mask_binary_ce loss (see the base).
loss_type = "mask_binary_ce"
include("_epic100_verb_base.py")
