"""ImageNet split generator from class folders (image format ``<path> <image_id> <label>``).

``<root>/train/<wnid>/*.JPEG`` gives the classes (sorted wnids) and the train rows; the validation set
is either ``<root>/val/<wnid>/*.JPEG`` or the flat official ``val/`` folder with ``LOC_val_solution.csv``
(``ImageId,PredictionString`` whose first token is the wnid). Paths are relative to ``root``;
``image_id`` counts train then val images in sorted order.
"""

from __future__ import annotations

import os
from pathlib import Path

from tqdm import tqdm

from ..split_file import SplitRow
from . import common
from .common import annotation_error, read_csv_rows, require_file, write_outputs

IMAGE_EXTS = (".jpeg", ".jpg", ".png")


def _class_folder_images(
    root: Path, split: str, classes: list[str] | None
) -> tuple[list[str], list[tuple[str, str]]]:
    base = root / split
    if not base.is_dir():
        raise FileNotFoundError(f"ImageNet {split} folder {base} not found")
    with os.scandir(base) as it:
        entries = list(it)
    wnids = sorted(e.name for e in entries if e.is_dir())
    if not wnids:
        flat = sum(1 for e in entries if e.is_file() and e.name.lower().endswith(IMAGE_EXTS))
        raise _no_class_folders(base, split, flat)
    items = []
    for wnid in tqdm(
        wnids, desc=f"ImageNet {split}", unit="class", disable=len(wnids) < common.PROGRESS_MIN_ITEMS
    ):
        for f in sorted(os.listdir(base / wnid)):
            if f.lower().endswith(IMAGE_EXTS):
                items.append((f"{split}/{wnid}/{f}", wnid))
    if not items:
        raise ValueError(
            f"ImageNet {split}: the {len(wnids)} class folders under {base} hold no "
            f"{'/'.join(IMAGE_EXTS)} images"
        )
    return (classes or wnids), items


def _no_class_folders(base: Path, split: str, flat: int) -> ValueError:
    """The one-line error for a split folder without ``<wnid>/`` class folders (``flat`` images in it)."""
    if split == "val" and flat:  # the official flat val/: its labels are in LOC_val_solution.csv
        return ValueError(
            f"ImageNet val folder {base} holds {flat} images but no <wnid>/ class folders (the flat official "
            "val/); pass --val-solution LOC_val_solution.csv to label them"
        )
    images = f" ({flat} images lie directly in it)" if flat else ""
    fix = (
        "pass --val-solution LOC_val_solution.csv, or sort val/ into <wnid>/ folders"
        if split == "val"
        else "pass the root that holds train/<wnid>/*.JPEG"
    )
    return ValueError(f"ImageNet {split} folder {base} has no <wnid>/ class folders{images}; {fix}")


def _flat_val_images(root: Path, solution: Path) -> list[tuple[str, str]]:
    items = []
    for lineno, row in read_csv_rows(solution, ("ImageId", "PredictionString")):
        tokens = row["PredictionString"].split()
        if not tokens:
            raise annotation_error(solution, lineno, "empty PredictionString; expected '<wnid> x y x y ...'")
        items.append((f"val/{row['ImageId']}.JPEG", tokens[0]))
    return sorted(items)


def imagenet_splits(
    root: str | os.PathLike, out_dir: str | os.PathLike, val_solution: str | os.PathLike | None = None
) -> dict[str, Path]:
    """Write ``train.csv`` and ``val.csv`` (image format) and ``classes.txt`` (wnids)."""
    root = Path(root)
    classes, train = _class_folder_images(root, "train", None)
    label_of = {w: i for i, w in enumerate(classes)}
    val = (
        _flat_val_images(root, require_file(val_solution, "ImageNet --val-solution LOC_val_solution.csv"))
        if val_solution
        else _class_folder_images(root, "val", classes)[1]
    )
    rows: dict[str, list[SplitRow]] = {}
    image_id = 0
    for split, items in (("train", train), ("val", val)):
        out = []
        for path, wnid in items:
            if wnid not in label_of:
                raise ValueError(f"ImageNet {split} image {path} has class {wnid} with no train folder")
            out.append(SplitRow(path, image_id, label_of[wnid]))
            image_id += 1
        rows[split] = out
    return write_outputs(out_dir, rows, "image", 0, classes)


def add_cli(sub) -> None:
    """Register ``vai-data splits imagenet``."""
    p = sub.add_parser(
        "imagenet", help="ImageNet from train/<wnid>/ (and val/<wnid>/ or LOC_val_solution.csv)"
    )
    p.add_argument("root", help="ImageNet root holding train/ and val/")
    p.add_argument("-o", "--out-dir", required=True, help="folder to write train.csv, val.csv, classes.txt")
    p.add_argument("--val-solution", default=None, help="LOC_val_solution.csv when val/ is flat")
    p.set_defaults(handler=lambda a: imagenet_splits(a.root, a.out_dir, a.val_solution))
