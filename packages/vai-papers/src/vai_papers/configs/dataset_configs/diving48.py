# Diving48 (V1 labels, as upstream's `diving48` config; diving48_v2 has the cleaned V2 labels): 48 dive
# classes, trimmed videos rgb/<vid_name>.mp4. Prepared with `vai-data splits diving48 --version 1`
# (train.csv, test.csv; classes.txt from Diving48_vocab.json); data in $VAI_DIVING48_ROOT, else
# $VAI_DATA_ROOT/diving48.
dataset_name = "diving48"
diving48_version = 1

include("_diving48.py")
