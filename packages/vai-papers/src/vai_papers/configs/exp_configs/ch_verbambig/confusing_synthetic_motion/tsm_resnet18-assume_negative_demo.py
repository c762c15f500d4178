# Verb-ambiguity demo (see _verbambig_demo_base.py) with the assume_negative loss.
loss_type = "assume_negative"
include("_verbambig_demo_base.py")
