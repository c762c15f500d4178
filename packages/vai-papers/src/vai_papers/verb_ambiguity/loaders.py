"""Loaders over relabelled train data: a DataLoader like another over a new dataset."""

from __future__ import annotations

import logging
from typing import Any

from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, SequentialSampler

logger = logging.getLogger(__name__)

__all__ = ["clone_loader"]


def clone_loader(old: DataLoader, dataset: Any) -> DataLoader:
    """A DataLoader over ``dataset`` with ``old``'s settings (sampler kind, batching, workers, collate)."""
    if len(dataset) != len(old.dataset):
        logger.warning(
            "the rebuilt train dataset has %d samples, the old one %d: schedules counted in iterations "
            "keep the old count",
            len(dataset),
            len(old.dataset),
        )
    s = old.sampler
    if old.batch_size is None:
        raise ValueError("the train loader uses a batch_sampler, which cannot be rebuilt for a new dataset")
    if isinstance(s, DistributedSampler):
        sampler = DistributedSampler(
            dataset,
            num_replicas=s.num_replicas,
            rank=s.rank,
            shuffle=s.shuffle,
            seed=s.seed,
            drop_last=s.drop_last,
        )
    elif isinstance(s, RandomSampler):
        sampler = RandomSampler(
            dataset, replacement=s.replacement, num_samples=s._num_samples, generator=s.generator
        )
    elif isinstance(s, SequentialSampler):
        sampler = None
    else:
        raise ValueError(
            f"the train loader's {type(s).__name__} cannot be rebuilt for the relabelled dataset; use a"
            " DistributedSampler (vai-train's train loader), RandomSampler or SequentialSampler"
        )
    workers = old.num_workers
    return DataLoader(
        dataset,
        batch_size=old.batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=old.collate_fn,
        pin_memory=old.pin_memory,
        drop_last=old.drop_last,
        timeout=old.timeout,
        worker_init_fn=old.worker_init_fn,
        generator=old.generator,
        prefetch_factor=old.prefetch_factor if workers > 0 else None,
        persistent_workers=old.persistent_workers and workers > 0,
    )
