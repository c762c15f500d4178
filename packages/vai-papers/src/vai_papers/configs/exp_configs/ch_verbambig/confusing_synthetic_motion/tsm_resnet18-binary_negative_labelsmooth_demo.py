# Verb-ambiguity demo (see _verbambig_demo_base.py) with the binary_negative_labelsmooth loss.
loss_type = "binary_negative_labelsmooth"
include("_verbambig_demo_base.py")
