"""``epoch_start_script`` of the end-to-end verb-ambiguity runs: fresh kNN pseudo-labels every few epochs.

Every ``period`` epochs (and at the first epoch a process trains, fresh or resumed) the current model
extracts features of the training videos in test mode (the ``traindata_testmode`` split), neighbours
are recomputed and the train dataset gets the new ``video_id_to_label``. Extraction reuses vai-train's
``run_inference`` (sharded over ranks, gathered to rank 0 in dataset order); rank 0 computes the
pseudo-labels and broadcasts them. With ``save=True`` each refresh is written to
``predictions/pseudo_labels/epoch_NNNN.npz``, NNNN the epoch that computed it. On a due epoch the hook
first looks for the latest such file from the refresh in force up to this epoch (``ref <= NNNN <=
epoch``) in the run's own folder, then, at the epoch a ``-l N`` run starts, in the version it continues
(``exp.extra["source_run_dir"]``, whose file N+1 was computed from the weights this run starts from) and,
when that version was itself continued from another, further back along the chain (see
:mod:`.lineage`; the hook records each link in ``pseudo_labels/source.json``); a file found there is
copied into the run's folder. Only when none is found does it compute (upstream recomputed from the
later model, so its resumes differed). With ``$VAI_USE_NEIGHBOUR_CACHE`` on, neighbours are cached in
``$VAI_NEIGHBOUR_CACHE_DIR``, else ``<experiment root>/neighbour_cache`` of the run (``-R``).
"""

from __future__ import annotations

import itertools
import logging
import numbers
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from vai_data.pathio import write_local_atomic

from .lineage import lineage, record_source
from .loaders import clone_loader
from .losses import PSEUDO_LABEL_LOSSES, base_loss_type
from .neighbour_cache import default_cache_dir
from .pseudo_labels import (
    _check_threshold,
    default_num_neighbours,
    default_threshold,
    pseudo_video_id_to_label,
    to_video_id_to_label,
)

logger = logging.getLogger(__name__)

__all__ = ["PseudoLabelRefresher", "clone_loader", "make_epoch_start_script"]


class PseudoLabelRefresher:
    """A callable ``epoch_start_script(epoch, exp, args, rank, world_size, kit)`` (see the module doc).

    ``get_torch_dataset(split)``: the exp config's; ``feature_split`` is extracted (test mode, one view).
    ``rebuild_train_dataset(video_id_to_label)``: optional; where given it makes the new train dataset
    and the hook returns ``{"train_loader": ...}`` (a loader like the old one); otherwise the current
    train dataset's ``video_id_to_label`` is set in place (vai_data datasets accept that).
    ``feature_extract_model(model, "features")``: default the model's ``forward_features``.
    ``data_unpack_func``/``input_reshape_func``/``batch_size``/``num_workers``: default the ``val``
    split's (the kit's functions, its loader's batch size) and the train loader's workers.
    ``neighbour_options`` go to :func:`~vai_papers.verb_ambiguity.nearest_neighbours` (``chunk_size``,
    ``dtype``, ``cache_dir``: default, with ``$VAI_USE_NEIGHBOUR_CACHE`` on, ``$VAI_NEIGHBOUR_CACHE_DIR``
    else the run's ``<experiment root>/neighbour_cache``); distances are computed on the model's device.
    ``save``: write each refresh under the run's ``predictions/pseudo_labels/`` and read saved ones back
    when a process starts (False: neither).
    """

    def __init__(
        self,
        get_torch_dataset: Callable[[str], Any],
        *,
        loss_type: str = "mask_binary_ce",
        num_classes: int | None = None,
        period: int = 5,
        feature_split: str = "traindata_testmode",
        k: int | None = None,
        threshold: float | None = None,
        rebuild_train_dataset: Callable[[Mapping[int, np.ndarray]], Any] | None = None,
        feature_extract_model: Callable[[nn.Module, str], nn.Module] | None = None,
        data_unpack_func: Callable | None = None,
        input_reshape_func: Callable | None = None,
        batch_size: int | None = None,
        num_workers: int | None = None,
        use_amp: bool = False,
        save: bool = True,
        save_features: bool = False,
        neighbour_options: Mapping[str, Any] | None = None,
    ) -> None:
        # one line now, not after the first refresh's feature pass: only kNN pseudo-label losses train on them
        base_loss_type(loss_type)  # an unknown name: the list of valid ones
        if loss_type not in PSEUDO_LABEL_LOSSES:
            raise ValueError(
                f"loss_type {loss_type!r} does not train on kNN pseudo-labels, so it needs no refresh hook;"
                f" the hook serves {', '.join(PSEUDO_LABEL_LOSSES)} (ideal_* losses read their labels from the data)"
            )
        if isinstance(period, bool) or not isinstance(period, numbers.Integral) or period < 1:
            raise ValueError(f"period must be a positive number of epochs, got {period!r}")
        self.get_torch_dataset = get_torch_dataset
        self.loss_type = loss_type
        self.num_classes = num_classes
        self.period = int(period)
        self.feature_split = feature_split
        if k is not None and (isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1):
            raise ValueError(f"k must be a positive integer, got {k!r}")
        self.k = default_num_neighbours() if k is None else int(k)
        self.threshold = default_threshold() if threshold is None else _check_threshold(threshold)
        self.rebuild_train_dataset = rebuild_train_dataset
        self.feature_extract_model = feature_extract_model
        self.data_unpack_func = data_unpack_func
        self.input_reshape_func = input_reshape_func
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.use_amp = use_amp
        self.save = save
        self.save_features = save_features
        self.neighbour_options = dict(neighbour_options or {})
        #: the latest pseudo-labels (an exp config's ``get_torch_dataset('train')`` may read them)
        self.video_id_to_label: dict[int, np.ndarray] | None = None
        self._loader: DataLoader | None = None
        self._started = False  # whether this process has called the hook (its first epoch is the start)

    # ------------------------------------------------------------------ schedule
    def refresh_epoch(self, epoch: int) -> int:
        """The epoch whose refresh is in force at ``epoch`` (refreshes at 1, 1 + period, ...)."""
        return epoch - (epoch - 1) % self.period

    def due(self, epoch: int) -> bool:
        """Whether ``epoch`` starts with new pseudo-labels (its refresh epoch, or none in force yet)."""
        return self.video_id_to_label is None or self.refresh_epoch(epoch) == epoch

    # ------------------------------------------------------------------ the hook
    def __call__(
        self, epoch: int, exp: Any, args: Any, rank: int, world_size: int, kit: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Refresh the pseudo-labels when due; a dict return replaces kit entries (``train_loader``)."""
        first, self._started = not self._started, True
        if not self.due(epoch):
            return None
        from vai_train.engine.builders import unwrap
        from vai_train.engine.distributed import DistInfo, broadcast_object

        model = unwrap(kit["model"])
        device = next(iter(model.parameters()), torch.zeros(0)).device
        info = DistInfo(rank, world_size, device.index or 0, device)
        own = self._pseudo_dir(getattr(exp, "run_dir", None)) if self.save else None
        payload = self._find_saved(epoch, own, exp, first) if info.is_main and own is not None else None
        if not broadcast_object(payload is not None, info):
            path = own / f"epoch_{epoch:04d}.npz" if own is not None else None
            payload = self._compute(epoch, model, device, info, args, kit, path, self._cache_dir(exp, args))
        ids, targets = broadcast_object(payload, info)
        self.video_id_to_label = to_video_id_to_label(ids.tolist(), targets)
        return self._apply(kit)

    def _compute(
        self,
        epoch: int,
        model: nn.Module,
        device: torch.device,
        info: Any,
        args: Any,
        kit: dict[str, Any],
        path: Path | None,
        cache_dir: Path | None = None,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Extract features on every rank; rank 0 builds the pseudo-labels (others get None)."""
        from vai_train.engine.loop import AmpSettings, resolve_amp, run_inference

        fmodel = self._feature_model(model)
        amp = resolve_amp(True, None, device) if self.use_amp else AmpSettings(False)
        out = run_inference(
            fmodel,
            self._feature_loader(info, args, kit),
            info,
            self.data_unpack_func or kit["data_unpack_funcs"]["val"],
            self.input_reshape_func or kit["input_reshape_funcs"]["val"],
            None,
            None,
            amp,
            desc=f"features {epoch}",
            progress=not getattr(args, "no_progress", False),
        )
        if not info.is_main:
            return None
        feats, labels, vids = out["probs"], out["labels"], out["video_ids"]
        if labels.ndim != 1:
            raise ValueError(
                f"{self.feature_split}: pseudo-labels need single class-index labels, got label vectors of "
                f"shape {tuple(labels.shape)} (is video_id_to_label set on this split?)"
            )
        options = {"device": device, **self.neighbour_options}
        if "cache_dir" not in options and cache_dir is not None:
            options["cache_dir"] = cache_dir
        _, details = pseudo_video_id_to_label(
            vids,
            feats,
            labels,
            self.loss_type,
            num_classes=self.num_classes,
            k=self.k,
            threshold=self.threshold,
            **options,
        )
        extra = int((details["targets"] != 0).sum()) - len(details["video_ids"])
        logger.info(
            "epoch %d: pseudo-labels of %d videos (k=%d, threshold %g): %.2f pseudo-positives per video",
            epoch,
            len(details["video_ids"]),
            self.k,
            self.threshold,
            extra / max(1, len(details["video_ids"])),
        )
        if path is not None:
            self._save(path, details, feats, vids)
        return details["video_ids"].numpy(), details["targets"].numpy()

    def _feature_model(self, model: nn.Module) -> nn.Module:
        if self.feature_extract_model is not None:
            return self.feature_extract_model(model, "features")
        if not hasattr(model, "forward_features"):
            raise ValueError(
                f"{type(model).__name__} has no forward_features(); pass feature_extract_model=fn(model, name)"
            )
        from vai_train.engine.evaluate import ForwardFeatures

        return ForwardFeatures(model)

    def _feature_loader(self, info: Any, args: Any, kit: dict[str, Any]) -> DataLoader:
        """The test-mode loader of ``feature_split`` (built once per process)."""
        if self._loader is None:
            from vai_train.dataset_hooks import dataset_attr
            from vai_train.engine.builders import make_eval_loader

            ds = self.get_torch_dataset(self.feature_split)
            if ds is None:
                raise ValueError(f"get_torch_dataset({self.feature_split!r}) returned None")
            val_loader = kit.get("val_loader")
            batch_size = self.batch_size or getattr(val_loader, "batch_size", None) or 1
            workers = self.num_workers if self.num_workers is not None else kit["train_loader"].num_workers
            seed = int(getattr(args, "seed", 0) or 0)
            collate = dataset_attr(ds, "collate_fn")
            self._loader = make_eval_loader(ds, batch_size, info, seed, workers, collate)
        return self._loader

    # ------------------------------------------------------------------ saving / resuming
    @staticmethod
    def _pseudo_dir(run_dir: Any) -> Path | None:
        """``<run>/predictions/pseudo_labels`` of a RunDir-like object (None without ``predictions``)."""
        predictions = getattr(run_dir, "predictions", None)
        return None if predictions is None else Path(predictions) / "pseudo_labels"

    def _find_saved(
        self, epoch: int, own: Path, exp: Any, first: bool
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The latest saved refresh ``epoch_j.npz`` with ``refresh_epoch(epoch) <= j <= epoch`` made with
        these settings: in the run's own folder, else, at the epoch a ``-l N`` run starts (``first``:
        ``epoch`` is N+1, the source's weights are this run's), in its source version's, then along the
        source's own ``-l`` chain with ``j`` at most each version's start epoch (then copied). A ``-l N``
        run records its source in ``source.json`` here, so later continuations can walk back through it."""
        ref = self.refresh_epoch(epoch)
        extra = getattr(exp, "extra", None)
        source = extra.get("source_run_dir") if first and isinstance(extra, Mapping) else None
        source_dir = self._pseudo_dir(source)
        folders: Iterable[tuple[Path, int]] = [(own, epoch)]
        if source_dir is not None:
            record_source(own, source_dir, epoch)
            folders = itertools.chain(folders, lineage(own, source_dir, epoch, ref))
        for folder, last in folders:
            for j in range(last, ref - 1, -1):
                path = folder / f"epoch_{j:04d}.npz"
                payload = self._load_saved(path)
                if payload is None:
                    continue
                if folder is not own:
                    _copy_atomic(path, own / path.name)
                logger.info("epoch %d: pseudo-labels computed at epoch %d read from %s", epoch, j, path)
                return payload
        return None

    @staticmethod
    def _cache_dir(exp: Any, args: Any) -> Path | None:
        """The neighbour cache folder (None: caching off): ``$VAI_NEIGHBOUR_CACHE_DIR``, else the run's
        ``<experiment root>/neighbour_cache``."""
        return default_cache_dir(_experiment_root(getattr(exp, "run_dir", None), args))

    def _save(
        self, path: Path, details: dict[str, torch.Tensor], feats: torch.Tensor, vids: torch.Tensor
    ) -> None:
        from vai_train.engine.evaluate import save_arrays

        arrays: dict[str, Any] = {
            **details,
            "loss_type": np.asarray(self.loss_type),
            "k": np.asarray(self.k),
            "threshold": np.asarray(self.threshold),
        }
        if self.save_features:
            arrays.update({"clip_features": feats, "clip_video_ids": vids})
        save_arrays(path, arrays)
        logger.info("pseudo-labels saved to %s", path)

    def _load_saved(self, path: Path) -> tuple[np.ndarray, np.ndarray] | None:
        """(video ids, targets) of a refresh saved with the same settings, else None."""
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as d:
                same = (
                    str(d["loss_type"]) == self.loss_type
                    and int(d["k"]) == self.k
                    and float(d["threshold"]) == self.threshold
                )
                ids, targets = d["video_ids"], d["targets"]
        except (OSError, KeyError, ValueError) as e:
            logger.warning("%s is unreadable (%s); recomputing the pseudo-labels", path, e)
            return None
        if not same or targets.ndim != 2 or len(ids) != len(targets):
            logger.info("%s was made with other settings; recomputing the pseudo-labels", path)
            return None
        return ids, targets

    # ------------------------------------------------------------------ the train data
    def _apply(self, kit: dict[str, Any]) -> dict[str, Any] | None:
        """Give the train data the new labels: in place, or a rebuilt dataset in a new loader."""
        loader: DataLoader = kit["train_loader"]
        if self.rebuild_train_dataset is not None:
            return {"train_loader": clone_loader(loader, self.rebuild_train_dataset(self.video_id_to_label))}
        from vai_train.dataset_hooks import dataset_parts

        parts = [p for p in dataset_parts(loader.dataset) if hasattr(p, "video_id_to_label")]
        if not parts:
            raise ValueError(
                f"the train dataset ({type(loader.dataset).__name__}) has no video_id_to_label to set; pass "
                "rebuild_train_dataset=fn(video_id_to_label) returning the relabelled dataset"
            )
        for part in parts:
            part.video_id_to_label = self.video_id_to_label
        if loader.num_workers > 0 and loader.persistent_workers:  # their copies would keep the old labels
            return {"train_loader": clone_loader(loader, loader.dataset)}
        return None


def _experiment_root(run_dir: Any, args: Any) -> Path | None:
    """The run's experiment root: vai-train's ``-R`` (``args.experiment_root``), else the folder
    ``<root>/<dataset>/<model>/<exp>[/<subfolder>]/version_NNN`` lies in; None if unknown."""
    root = getattr(args, "experiment_root", None)
    if root:
        return Path(root)
    path = getattr(run_dir, "path", None)
    if path is None:
        return None
    levels = 4 if getattr(args, "subfolder", None) else 3
    parents = Path(path).parents
    return parents[levels] if len(parents) > levels else None


def _copy_atomic(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` through a new file renamed over it (no half-written file)."""
    try:
        write_local_atomic(str(dst), [src.read_bytes()], prefix=f".{dst.name}.")
    except OSError as e:  # the labels were read; only the run's own copy is missing
        logger.warning("could not copy %s into %s: %s", src, dst.parent, e)


def make_epoch_start_script(get_torch_dataset: Callable[[str], Any], **options: Any) -> PseudoLabelRefresher:
    """``epoch_start_script = make_epoch_start_script(get_torch_dataset, loss_type=..., num_classes=...)``
    in an exp config (options: :class:`PseudoLabelRefresher`'s)."""
    return PseudoLabelRefresher(get_torch_dataset, **options)
