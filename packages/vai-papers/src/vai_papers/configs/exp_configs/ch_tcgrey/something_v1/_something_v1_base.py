# Channel sampling (BMVC 2022) on Something-Something v1, full scale: 8 segments of 224² crops, TSN, TRN and
# MTRN (ResNet-50, partial BN, plateau LR) and TSM and MVF (ResNet-50, upstream's "_nopartialbn" recipe),
# each in the modes RGB, TC, TCPlus2 and GreyST; the shared recipe and its sources are in
# ../_channel_sampling_paper_base.py. A per-(model, mode) file sets `sampling_mode` and includes this one:
#   vai-train train -D something_v1 -M tsm_resnet50 -c:e tcgrey -E TCPlus2_8frame
# Data: `vai-data splits something-v1 ...` into $VAI_SOMETHING_V1_ROOT (see the dataset config).
input_frame_length = 8
# per GPU: 32 clips of 8 x 224² (GreyST: 24 grey frames folded into the same model input), upstream's
# batch on GPUs with more than 20 GB; the LR follows the batch size (see the shared base)
batch_size = 32
partial_bn_models = ("tsn_resnet50", "trn_resnet50", "mtrn_resnet50")
# upstream's MultiStepLR milestones (epochs): tsm_resnet50_nopartialbn [20, 40], mvf_resnet50_nopartialbn
nopartialbn_models = {
    "tsm_resnet50": [20, 40],
    "mvf_resnet50": [10, 30, 40, 45, 55, 65, 75, 85, 95, 105],
}
plateau_multiple = False  # upstream: ReduceLROnPlateau on val_loss for Something-Something

include("../_channel_sampling_paper_base.py")
