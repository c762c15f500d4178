# ProSelfLC demo (see _proselflc_demo_base.py) with the ce training loss.
loss_type = "ce"
include("_proselflc_demo_base.py")
