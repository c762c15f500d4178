"""``LoadReport``: what a checkpoint conversion or inflation filled, skipped and left untouched."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class LoadReport:
    """Key lists of one load: ``loaded`` into the model, model keys ``missing`` from the source,
    source keys ``unexpected`` (no counterpart in the model, or no name mapping), and keys skipped
    for a shape ``mismatched`` (e.g. a 400-class fc into a 10-class model). Each model key is in at
    most one list: a shape-mismatched key is not also counted as missing."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    def summary(self, limit: int = 8) -> str:
        """One readable paragraph: counts, then the first ``limit`` names of each non-empty list."""

        def names(keys: list[str]) -> str:
            more = f" … (+{len(keys) - limit})" if len(keys) > limit else ""
            return ", ".join(keys[:limit]) + more

        parts = [f"loaded {len(self.loaded)} tensors"]
        for label, keys in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("shape-mismatched", self.mismatched),
        ):
            if keys:
                parts.append(f"{label} {len(keys)}: {names(keys)}")
        return "; ".join(parts)


def load_converted(
    model: nn.Module,
    converted: dict[str, torch.Tensor],
    unmapped: list[str],
    strict: bool,
    source: str,
    origins: dict[str, str] | None = None,
) -> LoadReport:
    """Copy ``converted`` into ``model`` where names and shapes agree and report the rest.

    ``origins`` maps converted keys back to checkpoint names so the report shows both.
    ``strict`` raises (one line naming ``source``) when anything is missing, unexpected or mismatched.
    """
    own = model.state_dict()
    origins = origins or {}
    report = LoadReport(unexpected=list(unmapped))
    to_load = {}
    for key, value in converted.items():
        shown = f"{key} (from {origins[key]})" if key in origins and origins[key] != key else key
        if key not in own:
            report.unexpected.append(shown)
        elif tuple(own[key].shape) != tuple(value.shape):
            report.mismatched.append(f"{shown} {tuple(value.shape)}->{tuple(own[key].shape)}")
        else:
            to_load[key] = value.to(own[key].dtype)
            report.loaded.append(key)
    # a key the source has in another shape is reported as mismatched only, not also as missing
    report.missing = [k for k in own if k not in converted and not k.endswith("num_batches_tracked")]
    if strict and (report.missing or report.unexpected or report.mismatched):
        raise ValueError(
            f"{source}: checkpoint does not fit the model ({report.summary()}); pass strict=False to load the rest"
        )
    model.load_state_dict(to_load, strict=False)
    return report
