# EPIC-Kitchens-100 verbs: 97 classes (verb_class). Prepared with `vai-data splits epic100` (train.csv,
# val.csv, traindata_testmode.csv = the train rows evaluated in test mode; classes.txt from
# EPIC_100_verb_classes.csv); data in $VAI_EPIC100_VERB_ROOT, else $VAI_DATA_ROOT/epic100_verb: gulp/ is a
# GulpIO2 directory keyed by narration_id (upstream's storage), frames/ the folder holding
# P01/rgb_frames/P01_01/frame_0000000001.jpg (`--mode frames`).
#
# EK-100-SPMV (the verb-ambiguity paper's single-positive multi-verb evaluation) adds two splits that no
# `vai-data splits` command writes: write_spmv_splits() makes them from val.csv and the multi-verb label file
# ek100-val-multiple-verbs-halfagree-halfconfident-include_original-20220427.csv (columns narration_id,
# verb_labels = a JSON list of verb ids; $VAI_EPIC100_MULTIVERB_CSV, else that name in the dataset folder),
# which you must provide:
#   holdoutval.csv      val minus the multi-verb clips (single-label; top-1/top-5)
#   multilabeltest.csv  the multi-verb clips with all their verbs (multi-label, header 97)
import csv
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

dataset_name = "epic100_verb"
task = "single_label"
num_classes = 97
split_file_basename = {
    "train": "train.csv",
    "val": "val.csv",
    "multicropval": "val.csv",
    "traindata_testmode": "traindata_testmode.csv",
    "holdoutval": "holdoutval.csv",
    "multilabeltest": "multilabeltest.csv",
}
split2mode = {
    "train": "train",
    "val": "test",
    "multicropval": "test",
    "traindata_testmode": "test",
    "holdoutval": "test",
    "multilabeltest": "test",
}
horizontal_flip = True  # as upstream
_spmv = "EK-100-SPMV: write it with write_spmv_splits() from val.csv and the multi-verb labels"
split_notes = {"holdoutval": _spmv, "multilabeltest": _spmv}
storages = ("gulp", "frames", "packed", "lmdb")
prepare_command = "vai-data splits epic100 epic-kitchens-100-annotations -o {splits}"
prepare_note = "the GulpIO2 directory keyed by narration_id goes in gulp/; --mode frames for frames/"
classes_hint = " (it is written only when EPIC_100_verb_classes.csv lies in the annotations folder)"
multiverb_csv_name = "ek100-val-multiple-verbs-halfagree-halfconfident-include_original-20220427.csv"

include("_prepared_dataset.py")


def multiverb_csv() -> Path:
    """EK-100-SPMV's multi-verb labels: $VAI_EPIC100_MULTIVERB_CSV, else <dataset folder>/<its official name>."""
    explicit = os.environ.get("VAI_EPIC100_MULTIVERB_CSV", "").strip()
    return Path(explicit).expanduser().resolve() if explicit else data_dir() / multiverb_csv_name


def _read_multiverb(path: Path) -> dict[str, tuple[int, ...]]:
    """{narration_id: sorted verb ids} from the multi-verb csv; one error line naming a bad row."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{dataset_name}: multi-verb labels {path} not found; EK-100-SPMV needs {multiverb_csv_name} "
            "(set VAI_EPIC100_MULTIVERB_CSV to where it is)"
        )
    out = {}
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not {"narration_id", "verb_labels"} <= set(reader.fieldnames or ()):
            raise ValueError(
                f"{path}: expected the columns narration_id and verb_labels, got {reader.fieldnames}"
            )
        for lineno, row in enumerate(reader, start=2):
            try:
                verbs = tuple(sorted({int(v) for v in json.loads(row["verb_labels"])}))
            except (TypeError, ValueError):
                verbs = ()
            if not verbs or not all(0 <= v < num_classes for v in verbs):
                raise ValueError(
                    f"{path}:{lineno}: verb_labels {row['verb_labels']!r} is not a JSON list of verb ids 0..96"
                )
            out[row["narration_id"]] = verbs
    return out


def write_spmv_splits(
    multiverb: str | os.PathLike | None = None,
    annotation_dir: str | os.PathLike | None = None,
    storage: str | None = None,
) -> dict[str, Path]:
    """Write holdoutval.csv and multilabeltest.csv next to val.csv (EK-100-SPMV); returns their paths.

    Clips are matched by narration_id: gulp rows name it; frames and packed rows do not, so pass
    ``annotation_dir`` (epic-kitchens-100-annotations) to number the narrations as `vai-data splits epic100`
    does (its video_ids)."""
    from vai_data import read_split_file, write_split_file
    from vai_data.splits import epic100_verb_splits

    val_path = split_file("val", storage)
    val = read_split_file(val_path)
    multi = _read_multiverb(Path(multiverb) if multiverb is not None else multiverb_csv())
    if val.fmt == "gulp" and not any(r.path.endswith(".vpk") for r in val.rows[:1]):
        narration = {r.video_id: r.path for r in val.rows}
    elif annotation_dir is None:
        raise ValueError(
            f"{val_path} holds {val.fmt} rows, which do not name the narration ids; pass annotation_dir= "
            "(the epic-kitchens-100-annotations folder) to match the clips by video_id"
        )
    else:
        with tempfile.TemporaryDirectory() as tmp:
            keyed = read_split_file(
                epic100_verb_splits(annotation_dir, tmp, "gulp", testmode_copies=False)["val"]
            )
        narration = {r.video_id: r.path for r in keyed.rows}
    holdout = [r for r in val.rows if narration.get(r.video_id) not in multi]
    multilabel = [
        replace(r, label=multi[narration[r.video_id]]) for r in val.rows if narration.get(r.video_id) in multi
    ]
    if not multilabel:
        raise ValueError(f"none of the {len(multi)} narrations of the multi-verb labels is in {val_path}")
    out = {"holdoutval": val_path.with_name(split_file_basename["holdoutval"])}
    out["multilabeltest"] = val_path.with_name(split_file_basename["multilabeltest"])
    write_split_file(out["holdoutval"], holdout, fmt=val.fmt, num_classes=0)
    write_split_file(out["multilabeltest"], multilabel, fmt=val.fmt, num_classes=num_classes)
    return out
