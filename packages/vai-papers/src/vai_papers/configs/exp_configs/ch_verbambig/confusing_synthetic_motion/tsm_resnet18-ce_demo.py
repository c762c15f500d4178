# Verb-ambiguity demo (see _verbambig_demo_base.py) with the ce loss.
loss_type = "ce"
include("_verbambig_demo_base.py")
