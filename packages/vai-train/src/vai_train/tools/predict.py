"""``vai-train predict``: a trained model's top classes for videos outside any split (video files, or
JPEG frame folders and packed .vpk files where the split's dataset reads them: vai_data's does).

The videos go through the test pipeline of a split's dataset (``-s``, default ``val``, or ``multicropval``
with ``-m multicrop``): its sampling, views, scale, crops and normalisation, through the dataset's
``with_videos(paths)`` (vai_data's ``VideoClipDataset`` has one; vai-train never imports a data library).
Views of one video are averaged as in evaluation; class names come from the dataset config's
``class_keys``. ``-o`` writes the table as CSV (``.csv``) or JSON (``.json``).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from pathlib import Path
from typing import Any

import torch

from vai_train.atomic import atomic_open
from vai_train.dataset_hooks import dataset_attr
from vai_train.engine.result import RunResult

logger = logging.getLogger(__name__)

OUTPUT_SUFFIXES = (".csv", ".json")


def check_request(args: argparse.Namespace) -> None:
    """One line for a bad ``--top`` or ``-o`` before anything is loaded."""
    if args.top < 1:
        raise ValueError(f"--top {args.top}: show at least one class")
    if args.output is not None and Path(args.output).suffix.lower() not in OUTPUT_SUFFIXES:
        raise ValueError(f"-o {args.output}: write a .csv or a .json file")


def videos_dataset(dataset: Any, split: str, paths: list[str]) -> Any:
    """The split's test pipeline on ``paths`` (``dataset.with_videos``), or one line saying what is missing."""
    try:
        make = dataset_attr(dataset, "with_videos")
    except ValueError:  # a ConcatDataset: its parts' methods differ
        raise ValueError(
            f"the {split} dataset concatenates several datasets; predict reads videos through one: use -s with"
            " a split whose dataset is a single one"
        ) from None
    if not callable(make):
        raise ValueError(
            f"the {split} dataset ({type(dataset).__name__}) has no with_videos(paths) to read other videos;"
            " predict needs one (vai_data's VideoClipDataset has it), or use -s with a split whose dataset does"
        )
    return make(paths)


def top_classes(probs: torch.Tensor, k: int, names: list[str] | None) -> list[list[dict[str, Any]]]:
    """Per video, its ``k`` most probable classes as ``{"class_id", "class", "prob"}``, most probable first."""
    values, indices = probs.topk(min(k, probs.shape[1]), dim=1)
    return [
        [
            {"class_id": int(c), "class": names[int(c)] if names else str(int(c)), "prob": float(p)}
            for p, c in zip(row_p, row_c, strict=True)
        ]
        for row_p, row_c in zip(values, indices, strict=True)
    ]


def write_table(path: Path, videos: list[str], tops: list[list[dict[str, Any]]]) -> Path:
    """``path`` as CSV (``video,rank,class_id,class,prob``, one row per shown class) or JSON."""
    with atomic_open(path, "w", newline="") as f:
        if path.suffix.lower() == ".json":
            json.dump([{"video": v, "top": t} for v, t in zip(videos, tops, strict=True)], f, indent=2)
            f.write("\n")
        else:
            writer = csv.writer(f)
            writer.writerow(["video", "rank", "class_id", "class", "prob"])
            for video, top in zip(videos, tops, strict=True):
                for rank, entry in enumerate(top, 1):
                    writer.writerow([video, rank, entry["class_id"], entry["class"], f"{entry['prob']:.6f}"])
    return path


def run_predict(args: argparse.Namespace) -> RunResult:
    """Top classes of ``args.videos`` with the chosen weights; see the module docstring."""
    from vai_train.engine.distributed import cleanup_distributed
    from vai_train.engine.evaluate import eval_loader, infer, prepare_model
    from vai_train.metrics import average_per_video
    from vai_train.tools.confusion import class_names_of

    check_request(args)
    try:
        info, cfg, rd, model, epoch, split, _ = prepare_model(args, "predict")
        dataset = videos_dataset(cfg.get_torch_dataset(split), split, list(args.videos))
        out = infer(
            model, eval_loader(cfg, split, info, args, dataset), cfg, split, info, args, desc="predict"
        )
        weights = f"epoch {epoch}" if epoch is not None else "load_pretrained() weights"
        result = RunResult(rd.path if rd else None, best_epoch=epoch, last_epoch=epoch, command="predict")
        if not info.is_main:
            return result
        probs, _ = average_per_video(out["probs"], out["labels"], out["video_ids"])
        tops = top_classes(probs, args.top, class_names_of(cfg.dataset_cfg, probs.shape[1]))
        lines = [
            f"{video}: " + ", ".join(f"{e['class']} {e['prob']:.3f}" for e in top)
            for video, top in zip(args.videos, tops, strict=True)
        ]
        written = write_table(Path(args.output), list(args.videos), tops) if args.output else None
        tail = f"predict: {len(lines)} video{'' if len(lines) == 1 else 's'} ({weights}, {split} pipeline)"
        result.metrics = {
            "videos": list(args.videos),
            "top": tops,
            "probs": probs,
            "output": str(written) if written else None,
            "summary": "\n".join([*lines, tail + (f" — table in {written}" if written else "")]),
        }
        return result
    finally:
        cleanup_distributed()
