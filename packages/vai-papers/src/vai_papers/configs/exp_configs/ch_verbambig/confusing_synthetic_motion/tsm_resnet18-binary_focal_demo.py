# Verb-ambiguity demo (see _verbambig_demo_base.py) with the binary_focal loss.
loss_type = "binary_focal"
include("_verbambig_demo_base.py")
