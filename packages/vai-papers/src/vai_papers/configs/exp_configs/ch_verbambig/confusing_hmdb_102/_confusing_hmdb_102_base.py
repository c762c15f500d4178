# Verb ambiguity (BMVC 2022) on Confusing-HMDB-102 (HMDB-51 with every class split into twins c and c + 51;
# train clips carry one of the two, test clips both), end-to-end, full scale: TSM-ResNet-50 fine-tuned
# from ImageNet (or Kinetics) weights with one single-positive loss per file (`loss_type`, including the
# ideal_* losses, whose pseudo-positive is the true twin); the shared recipe and its sources are in
# ../_verbambig_paper_base.py.
#   export VAI_PRETRAINED=/path/to/resnet50-imagenet.pth   # or a Kinetics-400 TSM-ResNet-50 checkpoint
#   vai-train train -D confusing_hmdb_102 -M tsm_resnet50 -c:e verbambig -E ce
# Data: `vai-data splits hmdb51 ... --confusion 2` into $VAI_CONFUSING_HMDB_102_ROOT; $VAI_SPLITNUM (1-3,
# default 1) picks the split.
# Validation during training runs on `val` (test<k>.csv, multi-label "c,c+51"): top-set accuracy (the best
# metric for end-to-end runs), top-1 multi-label accuracy, IoU, F1 and mAP (val_*); multi-crop evaluation
# (-m multicrop, 10 crops) reports the same at video level (multicropval_vid_*).
# per GPU: 32 clips of 8 x 224² (upstream's batch on GPUs above 20 GB); the LR follows the batch size
batch_size = 32
num_epochs = 1000
# upstream's tsm_resnet50_nopartialbn: no partial BN, dropout 0.5
model_kwargs = {"partial_bn": False, "dropout": 0.5}

include("../_verbambig_paper_base.py")

metrics = {
    "train": train_metrics(),
    "val": multilabel_metrics("val"),
    "multicropval": multilabel_metrics("multicropval", video_level=True),
}
best_metric = "val_topset_multilabel_accuracy"
