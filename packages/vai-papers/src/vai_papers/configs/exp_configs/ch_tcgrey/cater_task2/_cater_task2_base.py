# Channel sampling (BMVC 2022) on CATER task 2 (301 multi-label classes, mAP), full scale: 32 segments of 224²
# crops, TSM and MVF (ResNet-50, partial BN, as upstream's cater_task2 configs: its tsm_resnet50 and
# mvf_resnet50 model configs), each in the modes RGB, TC, TCPlus2 and GreyST; the shared recipe and its
# sources are in ../_channel_sampling_paper_base.py. Multi-label: BCE-with-logits loss, sigmoid, val mAP
# (the best metric), multicropval mAP and video-level mAP over 10 crops (vai-train's multi-label defaults).
# A per-(model, mode) file sets `sampling_mode` and includes this one:
#   vai-train train -D cater_task2 -M tsm_resnet50 -c:e tcgrey -E GreyST_32frame
# Data: `vai-data splits cater ... --task 2` into $VAI_CATER_TASK2_ROOT (see the dataset config).
input_frame_length = 32
# per GPU: 12 clips of 32 x 224² (upstream's batch on GPUs above 20 GB); the LR follows the batch size
batch_size = 12
partial_bn_models = ("tsm_resnet50", "mvf_resnet50")
nopartialbn_models = {}
plateau_multiple = True  # upstream: ReduceLROnPlateauMultiple for CATER (val_loss or val_mAP must improve)

include("../_channel_sampling_paper_base.py")
