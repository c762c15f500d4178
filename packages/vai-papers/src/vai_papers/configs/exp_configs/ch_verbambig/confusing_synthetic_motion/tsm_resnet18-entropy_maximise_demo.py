# Verb-ambiguity demo (see _verbambig_demo_base.py) with the entropy_maximise loss.
loss_type = "entropy_maximise"
include("_verbambig_demo_base.py")
