# Diving48 V2 (the cleaned labels; upstream's `diving48_v2` config; diving48 has the V1 labels): 48 dive
# classes, trimmed videos rgb/<vid_name>.mp4. Prepared with `vai-data splits diving48 --version 2`
# (train.csv, test.csv; classes.txt from Diving48_vocab.json); data in $VAI_DIVING48_V2_ROOT, else
# $VAI_DATA_ROOT/diving48_v2.
dataset_name = "diving48_v2"
diving48_version = 2

include("_diving48.py")
