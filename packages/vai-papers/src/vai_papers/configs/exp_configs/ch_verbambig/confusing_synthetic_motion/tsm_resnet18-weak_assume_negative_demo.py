# Verb-ambiguity demo (see _verbambig_demo_base.py) with the weak_assume_negative loss.
loss_type = "weak_assume_negative"
include("_verbambig_demo_base.py")
