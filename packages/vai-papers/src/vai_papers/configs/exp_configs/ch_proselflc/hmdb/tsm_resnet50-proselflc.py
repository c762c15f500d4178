# ProSelfLC example on HMDB-51, TSM-ResNet-50 trained with the proselflc loss (see _proselflc_hmdb_base.py).
loss_type = "proselflc"
include("_proselflc_hmdb_base.py")
