# Channel sampling (BMVC 2022) on Something-Something v1 and v2, full scale: what the two datasets' bases
# share (included by something_v1/_something_v1_base.py and something_v2/_something_v2_base.py).
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

include("_channel_sampling_paper_base.py")
