# Channel sampling (BMVC 2022) on Something-Something v1, full scale: 8 segments of 224² crops, TSN, TRN and
# MTRN (ResNet-50, partial BN, plateau LR) and TSM and MVF (ResNet-50, upstream's "_nopartialbn" recipe),
# each in the modes RGB, TC, TCPlus2 and GreyST; the shared recipe and its sources are in
# ../_channel_sampling_paper_base.py. A per-(model, mode) file sets `sampling_mode` and includes this one:
#   vai-train train -D something_v1 -M tsm_resnet50 -c:e tcgrey -E TCPlus2_8frame
# Data: `vai-data splits something-v1 ...` into $VAI_SOMETHING_V1_ROOT (see the dataset config).
include("../_something_something_base.py")
