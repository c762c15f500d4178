# ProSelfLC example on HMDB-51, TSM-ResNet-50 trained with the ce loss (see _proselflc_hmdb_base.py).
loss_type = "ce"
include("_proselflc_hmdb_base.py")
