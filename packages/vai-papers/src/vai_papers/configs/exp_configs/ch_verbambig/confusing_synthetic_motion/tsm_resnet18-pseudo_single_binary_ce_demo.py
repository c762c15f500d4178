# Verb-ambiguity demo (see _verbambig_demo_base.py) with the pseudo_single_binary_ce loss.
loss_type = "pseudo_single_binary_ce"
include("_verbambig_demo_base.py")
