# ProSelfLC demo (see _proselflc_demo_base.py) with the proselflc training loss.
loss_type = "proselflc"
include("_proselflc_demo_base.py")
