# Verb ambiguity (BMVC 2022) on EPIC-Kitchens-100 verbs (97 classes, EK-100-SPMV evaluation), end-to-end,
# full scale: TSM-ResNet-50 fine-tuned from EPIC-100 TSM weights with one single-positive loss per file
# (`loss_type`); the shared recipe and its sources are in ../_verbambig_paper_base.py.
#   export VAI_PRETRAINED=/path/to/epic100/tsm_rgb.ckpt     # EPIC-Kitchens-100 TSM RGB checkpoint
#   vai-train train -D epic100_verb -M tsm_resnet50 -c:e verbambig -E mask_binary_ce
#
# Data: `vai-data splits epic100 ...` into $VAI_EPIC100_VERB_ROOT (gulp/ keyed by narration_id, 8 frames per
# clip), then the EK-100-SPMV splits holdoutval.csv and multilabeltest.csv with the dataset config's
# write_spmv_splits() (from the multi-verb label csv, $VAI_EPIC100_MULTIVERB_CSV).
#
# Validation during training runs on `val`, the whole EPIC-100 validation set (val_loss is over all of it),
# and reports the paper's two views of it, as upstream did, by video id:
#   holdoutval_acc, holdoutval_acc_top5     the clips of holdoutval.csv (val minus the multi-verb clips),
#                                           single-label top-1 (the best metric) and top-5
#   multilabeltest_topset_multilabel_accuracy, _top1_multilabel_accuracy, _iou_accuracy, _f1_measure, _mAP
#                                           the clips of multilabeltest.csv scored against all their verbs
# Each split can also be evaluated on its own, e.g. the best epoch:
#   vai-train eval -D epic100_verb -M tsm_resnet50 -c:e verbambig -E mask_binary_ce -l -2 -s holdoutval
#   vai-train eval -D epic100_verb -M tsm_resnet50 -c:e verbambig -E mask_binary_ce -l -2 -s multilabeltest
# which write the same columns (and <split>_loss) into that epoch's row of summary.csv. Multi-crop
# evaluation (-m multicrop: 10 crops of the whole val set) reports top-1/top-5 over all val clips.

# per GPU: 16 clips of 8 x 224² (upstream's batch on GPUs above 20 GB); the LR follows the batch size
batch_size = 16
num_epochs = 500
# upstream's ch_epic100 TSM: partial BN, dropout 0.7
model_kwargs = {"partial_bn": True, "dropout": 0.7}

include("../_verbambig_paper_base.py")
include("_epic100_spmv_metrics.py")
