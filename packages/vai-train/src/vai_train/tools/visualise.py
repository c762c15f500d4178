"""``vai-train visualise``: the clips a split feeds the model, as GIFs and contact sheets.

Upstream's ``model_and_dataloader_visualiser.py``: it takes one batch (``-n`` samples, or the views of
``-i`` video ids), runs it through exactly what training does before the model — the split's collate
(e.g. mixup/cutmix on ``train``), the data unpack, the dataset's device transform and the exp config's
input reshape (e.g. channel sampling's reordering) — de-normalises it with the model config's
``input_mean``/``input_std`` and writes one GIF and one JPEG contact sheet per sample, optionally the
sheets (and the model's graph) to TensorBoard and the sheets to Telegram.
"""

from __future__ import annotations

import argparse
import logging
import random
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Subset, default_collate

from vai_train.dataset_hooks import dataset_attr, dataset_video_ids, device_input_func, set_dataset_epoch
from vai_train.engine.result import RunResult

logger = logging.getLogger(__name__)

GREY_COEFFS = (0.2989, 0.5870, 0.1140)  # luma weights, as vai_data's greyscale
SHEET_COLUMNS = 8


def choose_indices(
    dataset: Any,
    n: int,
    video_ids: Sequence[int] | None,
    shuffle: bool,
    seed: int,
    video_id_of: Callable[[int], int] | None = None,
) -> list[int]:
    """Sample indices: every view of the given video ids (in their order), else ``n`` samples (a seeded random
    pick when ``shuffle``, else the first ``n``). The ids come from the dataset's ``video_ids`` (through
    ``Subset``/``ConcatDataset``); a dataset without one is read in order with ``video_id_of(index)``
    (default ``dataset[index]["video_id"]``), its views of one video one after another."""
    size = len(dataset)
    if size == 0:
        raise ValueError("the split's dataset is empty; nothing to visualise")
    if video_ids:
        wanted = [int(v) for v in video_ids]
        ids = dataset_video_ids(dataset)
        if ids is None:  # read samples until every id and the views that follow it were found
            read = video_id_of or (lambda i: int(dataset[i]["video_id"]))
            ids = []
            for i in range(size):
                vid = read(i)
                if vid not in wanted and set(wanted) <= set(ids):
                    break
                ids.append(vid)
        missing = [v for v in wanted if v not in ids]
        if missing:
            raise ValueError(f"-i: video ids {missing} are not in this split ({size} samples)")
        return [i for v in wanted for i, vid in enumerate(ids) if vid == v]
    if n < 1:
        raise ValueError(f"-n {n}: visualise at least one sample")
    if shuffle:
        return sorted(random.Random(seed).sample(range(size), min(n, size)))
    return list(range(min(n, size)))


class Normalisation(NamedTuple):
    """How clips were normalised: ``(x [/ 255] - mean) / std``, channels reversed first when ``bgr``."""

    mean: Sequence[float]
    std: Sequence[float]
    scale_255: bool
    bgr: bool
    source: str


def normalisation_of(dataset: Any, cfg: Any) -> Normalisation | None:
    """The dataset's own ``normalize`` (vai_data's datasets: ``mean``, ``std``, ``scale_255``, ``bgr``), else the
    model config's ``input_mean``/``input_std``/``input_normalise``/``input_bgr``; None when neither is there."""
    try:
        norm = dataset_attr(dataset, "normalize")
    except ValueError:  # the parts of a ConcatDataset normalise differently
        norm = None
    if (
        norm is not None
        and getattr(norm, "mean", None) is not None
        and getattr(norm, "std", None) is not None
    ):
        return Normalisation(
            _floats(norm.mean),
            _floats(norm.std),
            bool(getattr(norm, "scale_255", True)),
            bool(getattr(norm, "bgr", False)),
            "the dataset's normalize",
        )
    model_cfg = cfg.model_cfg
    mean, std = getattr(model_cfg, "input_mean", None), getattr(model_cfg, "input_std", None)
    if mean is None or std is None:
        return None
    return Normalisation(
        _floats(mean),
        _floats(std),
        bool(getattr(model_cfg, "input_normalise", True)),
        bool(getattr(model_cfg, "input_bgr", False)),
        "the model config's input_mean/input_std",
    )


def _floats(values: Any) -> list[float]:
    return [float(v) for v in torch.as_tensor(values, dtype=torch.float32).flatten()]


def denormalise_stats(
    norm: Normalisation | None, channels: int
) -> tuple[torch.Tensor, torch.Tensor, float, bool] | None:
    """(mean, std, scale, bgr) undoing ``norm`` for ``channels`` channels, or None when it does not fit
    them (then clips are min-max scaled). A grey clip with 3-value statistics uses their luma, as vai_data
    normalises grey clips; 1-value statistics serve every channel."""
    if norm is None:
        return None
    mean, std = torch.tensor(norm.mean), torch.tensor(norm.std)
    if mean.shape != std.shape or mean.numel() == 0:
        return None
    if channels == 1 and mean.numel() == 3:
        w = torch.tensor(GREY_COEFFS)
        mean, std = (mean * w).sum().view(1), (std * w).sum().view(1)
    elif mean.numel() == 1:
        mean, std = mean.expand(channels), std.expand(channels)
    elif mean.numel() != channels:
        return None
    return mean, std, 255.0 if norm.scale_255 else 1.0, norm.bgr and channels == 3


def to_uint8_frames(clip: torch.Tensor, stats: tuple | None) -> np.ndarray:
    """One ``(C, T, H, W)`` float clip -> uint8 ``(T, H, W, 3)`` RGB frames for display."""
    clip = clip.detach().float().cpu()
    c = clip.shape[0]
    if stats is not None:
        mean, std, scale, bgr = stats
        clip = (clip * std.view(-1, 1, 1, 1) + mean.view(-1, 1, 1, 1)) * scale
        clip = clip.flip(0) if bgr else clip
    else:  # per channel min-max over the clip (e.g. flow, or statistics that do not fit)
        low = clip.amin(dim=(1, 2, 3), keepdim=True)
        high = clip.amax(dim=(1, 2, 3), keepdim=True)
        clip = (clip - low) / (high - low).clamp(min=1e-8) * 255.0
    if c == 1:
        clip = clip.expand(3, *clip.shape[1:])
    elif c == 2:  # flow (u, v) -> red, green
        clip = torch.cat([clip, torch.zeros_like(clip[:1])])
    elif c != 3:
        raise ValueError(f"cannot draw a clip with {c} channels (1, 2 or 3 expected)")
    return clip.clamp(0, 255).round().to(torch.uint8).permute(1, 2, 3, 0).contiguous().numpy()


def contact_sheet(frames: np.ndarray, columns: int = SHEET_COLUMNS, gap: int = 2) -> Image.Image:
    """The frames of a clip side by side, ``columns`` per row, on a white background."""
    t, h, w, _ = frames.shape
    cols = min(columns, t)
    rows = -(-t // cols)
    sheet = Image.new("RGB", (cols * w + (cols - 1) * gap, rows * h + (rows - 1) * gap), "white")
    for i, frame in enumerate(frames):
        r, col = divmod(i, cols)
        sheet.paste(Image.fromarray(frame), (col * (w + gap), r * (h + gap)))
    return sheet


def write_gif(frames: np.ndarray, path: Path, fps: float) -> Path:
    """An endlessly looping GIF of the frames."""
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=max(1, round(1000 / fps)), loop=0)
    return path


def label_text(label: Any, names: Sequence[str] | None) -> str:
    """A class index or multi-hot vector as class names (soft mixup targets as ``mixed``)."""
    label = torch.as_tensor(label)
    if label.ndim == 0:
        c = int(label)
        return names[c] if names and 0 <= c < len(names) else str(c)
    if not bool(((label == 0) | (label == 1)).all()):
        return "mixed"
    classes = [int(c) for c in label.nonzero().flatten()]
    return "+".join(names[c] if names and c < len(names) else str(c) for c in classes) or "none"


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_+" else "_" for ch in text)[:60]


def model_inputs(cfg: Any, split: str, indices: list[int], dataset: Any, training: bool) -> tuple[Any, ...]:
    """(clips before reshape, model input, video ids, labels) of the chosen samples, as training makes them."""
    collate = cfg.get_collate_fn(split, dataset, training=training)
    loader = DataLoader(Subset(dataset, indices), batch_size=len(indices), shuffle=False, collate_fn=collate)
    batch = next(iter(loader))
    inputs, uids, labels, _ = cfg.get_data_unpack_func(split)(batch)
    clips = device_input_func(loader, lambda x: x)(inputs, batch)
    return clips, cfg.get_input_reshape_func(split)(clips), uids, labels


def run_visualise(args: argparse.Namespace) -> RunResult:
    """Write GIFs and contact sheets of one batch of a split; see the module docstring."""
    from vai_train.engine.rng import seed_everything
    from vai_train.engine.trainer import exp_dir_of, load_cfg
    from vai_train.tools.confusion import class_names_of

    if args.fps <= 0:
        raise ValueError(f"--fps {args.fps}: frames per second must be positive")
    from vai_train.engine.distributed import refuse_under_torchrun
    from vai_train.engine.reports import setup_run_logging

    refuse_under_torchrun("visualise")
    setup_run_logging(None, args.log_level, 0, "visualise")  # console only: no version is involved
    cfg = load_cfg(args)
    seed_everything(args.seed)
    split = args.split
    dataset = cfg.get_torch_dataset(split)
    set_dataset_epoch(dataset, 1)  # the first training epoch's augmentation (epochs count from 1)
    training = split == "train"
    indices = choose_indices(
        dataset, args.num_samples, args.video_ids, training, args.seed, _video_id_reader(cfg, split, dataset)
    )
    clips, model_input, uids, labels = model_inputs(cfg, split, indices, dataset, training)
    shown, what = clips, "the clips before the input reshape"
    if not args.before_reshape:
        if (
            isinstance(model_input, torch.Tensor)
            and model_input.ndim == 5
            and model_input.shape[1] in (1, 2, 3)
        ):
            shown, what = model_input, "the model input (after the input reshape)"
        elif model_input is not clips:
            logger.info(
                "the model input is not an (N, C, T, H, W) clip batch; drawing the clips before the reshape"
            )
    if not isinstance(shown, torch.Tensor) or shown.ndim != 5:
        raise ValueError(
            f"visualise draws (N, C, T, H, W) clip batches; the split gives {type(shown).__name__}"
            f"{tuple(shown.shape) if isinstance(shown, torch.Tensor) else ''}"
        )
    norm = normalisation_of(dataset, cfg)
    stats = None if args.denormalise == "minmax" else denormalise_stats(norm, shown.shape[1])
    if args.denormalise == "auto":
        if stats is None:
            logger.info(
                "no normalisation statistics fitting %d channels (dataset normalize or model config): "
                "min-max scaling each clip",
                shown.shape[1],
            )
        else:
            logger.info("de-normalising with %s", norm.source)
    names = class_names_of(cfg.dataset_cfg, cfg.num_classes)
    out = Path(args.output) if args.output else exp_dir_of(args) / "visualisations" / split
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("[0-9][0-9][0-9]_video*.gif"), *out.glob("[0-9][0-9][0-9]_video*.jpg")]:
        old.unlink()  # an earlier call's samples: the folder shows this call's batch only
    files, sheets = [], []
    for i in range(shown.shape[0]):
        frames = to_uint8_frames(shown[i], stats)
        stem = f"{i:03d}_video{int(uids[i])}_{_safe(label_text(labels[i], names))}"
        files.append(write_gif(frames, out / f"{stem}.gif", args.fps))
        sheet = contact_sheet(frames)
        sheet.save(out / f"{stem}.jpg", quality=90)
        files.append(out / f"{stem}.jpg")
        sheets.append((stem, sheet))
    if args.tensorboard or args.graph:
        _tensorboard(cfg, out / "tensorboard", sheets, model_input if args.graph else None)
    if args.bot_index is not None:
        _telegram(cfg, args, out, sheets)
    logger.info("%s of %d %s samples (%s) written to %s", what, len(sheets), split, tuple(shown.shape), out)
    return RunResult(
        None,
        metrics={
            "out_dir": str(out),
            "files": [str(p) for p in files],
            "shape": tuple(shown.shape),
            "summary": f"visualise: {len(sheets)} {split} samples ({what}) written to {out}",
        },
        command="visualise",
    )


def _video_id_reader(cfg: Any, split: str, dataset: Any) -> Callable[[int], int]:
    """``index -> video id`` through the split's collate and data unpack (samples may be dicts or tuples)."""
    collate = cfg.get_collate_fn(split, dataset, training=False) or default_collate
    unpack = cfg.get_data_unpack_func(split)

    def read(index: int) -> int:
        _, uids, _, _ = unpack(collate([dataset[index]]))
        return int(torch.as_tensor(uids).flatten()[0])

    return read


def _tensorboard(cfg: Any, log_dir: Path, sheets: list, graph_input: Any) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(log_dir)) as writer:
        for stem, sheet in sheets:
            writer.add_image(f"inputs/{stem}", np.asarray(sheet), 0, dataformats="HWC")
        if graph_input is not None:
            try:
                model = cfg.load_model().eval()
                with warnings.catch_warnings():  # torch.jit.trace's deprecation notice, once per call
                    warnings.simplefilter("ignore", FutureWarning)
                    writer.add_graph(model, graph_input)
            except Exception as e:  # tracing fails for some models; the images are still written
                logger.warning("the model graph could not be traced for TensorBoard: %s", e)


def _telegram(cfg: Any, args: argparse.Namespace, out: Path, sheets: list) -> None:
    from vai_train.engine.reports import make_telegram

    try:
        bot = make_telegram(cfg, args, None)
        for stem, _ in sheets:
            bot.send_photo(out / f"{stem}.jpg", caption=f"{args.split} {stem}")
    except Exception as e:  # reporting never fails the command
        logger.warning("Telegram reporting failed: %s", e)
