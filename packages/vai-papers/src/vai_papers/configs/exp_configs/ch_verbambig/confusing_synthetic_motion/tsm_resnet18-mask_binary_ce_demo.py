# Verb-ambiguity demo (see _verbambig_demo_base.py) with the mask_binary_ce loss.
loss_type = "mask_binary_ce"
include("_verbambig_demo_base.py")
