# Verb ambiguity, end-to-end TSM-ResNet-50 run with the pseudo_single_binary_ce loss (see the base).
loss_type = "pseudo_single_binary_ce"
include("_epic100_verb_base.py")
