"""Key-layout converters for checkpoints users bring: the TSM repo, EPIC-Kitchens TSN/TRN/TSM
(EPIC-55 action-models and EPIC-100 C1 baselines), the TRN repo and torchvision ImageNet ResNets.

Every converter maps a foreign state_dict onto the key names of the vai model it is loaded into.
"""

from __future__ import annotations

import logging
import re

import torch
from torch import nn

logger = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]

#: (verbs, nouns) of the EPIC-Kitchens label sets, for checkpoints with one concatenated head
EPIC_CLASS_COUNTS = {"epic55": (125, 352), "epic100": (97, 300)}
LAYOUTS = ("auto", "vai", "tsm", "epic", "trn", "torchvision")

_SHIFT_WRAPPER = re.compile(r"\.conv1\.net\.")  # TSM repo wraps shifted convs as conv1.net
_LAST_LINEAR = ("last_linear.", "fc.")  # ImageNet classifiers of pretrainedmodels / torchvision


def _backbone(key: str) -> str:
    key = "backbone." + key[len("base_model.") :]
    return _SHIFT_WRAPPER.sub(".conv1.", key)


def _has_module(model: nn.Module, name: str) -> bool:
    return any(k.startswith(name + ".") for k in model.state_dict())


def _head_target(model: nn.Module) -> str:
    # TRN-style models project frame features with img_fc before the relation head
    return "img_fc" if _has_module(model, "img_fc") else "fc"


def _pick_rows(key: str, value: torch.Tensor, model_state: StateDict, head: str) -> torch.Tensor:
    """Slice the verb (or noun) rows out of a concatenated verb+noun EPIC head when the model wants one."""
    target = model_state.get(key)
    if target is None or target.shape[0] == value.shape[0]:
        return value
    for verbs, nouns in EPIC_CLASS_COUNTS.values():
        if value.shape[0] == verbs + nouns and target.shape[0] in (verbs, nouns):
            return value[:verbs] if head == "verb" else value[verbs:]
    return value


#: EPIC / PyVideoAI multi-scale classifier keys, ``consensus.classifiers.{scale}.{task}.{param}``
_EPIC_SCALE_CLASSIFIER = re.compile(r"consensus\.classifiers\.(\d+)\.(\d+)\.(weight|bias)")


def _shift_epic_scale_classifiers(found: dict[tuple[int, str], torch.Tensor]) -> StateDict:
    """Map EPIC/PyVideoAI MTRN classifiers onto vai's one-classifier-per-scale head so the converted
    model computes what upstream's forward computes.

    Upstream's ``RelationModuleMultiScale.forward`` (``epic/ops/trn.py``) scores the largest scale
    with ``classifiers[0]`` and scale index ``s >= 1`` with ``classifiers[s - 1]``: the first
    classifier serves the two largest scales and the last one is never used. vai's head scores scale
    ``s`` with ``classifiers[s]``, so vai's ``classifiers[0]`` and ``classifiers[1]`` both get the
    file's ``classifiers[0]``, vai's ``classifiers[s]`` the file's ``classifiers[s - 1]``, and the
    file's unused last classifier is dropped.
    """
    if not found:
        return {}
    n_scales = max(scale for scale, _ in found) + 1
    out: StateDict = {}
    for (scale, param), value in found.items():
        if scale == 0:
            out[f"relation.classifiers.0.{param}"] = value
        if scale + 1 < n_scales:
            out[f"relation.classifiers.{scale + 1}.{param}"] = value
    logger.debug("EPIC MTRN: classifiers shifted by one scale as upstream's forward uses them")
    return out


def _convert_relation(key: str, head_index: int) -> str | None:
    """Map TRN-repo / EPIC relation-module keys to vai's ``relation.*``; None drops the key.

    EPIC multi-scale classifiers (``classifiers.{scale}.{task}``) are handled by
    :func:`_shift_epic_scale_classifiers` instead.
    """
    rest = key[len("consensus.") :]
    m = re.fullmatch(r"pre_classifier\.(\d+)\.(weight|bias)", rest)  # EPIC single-scale
    if m:
        return f"relation.fusion.{m[1]}.{m[2]}"
    m = re.fullmatch(r"classifiers\.(\d+)\.(weight|bias)", rest)  # EPIC single-scale, per task
    if m:
        return f"relation.classifier.{m[2]}" if int(m[1]) == head_index else None
    m = re.fullmatch(r"fc_fusion\.(\d+)\.(weight|bias)", rest)  # TRN repo single-scale, classifier at 3
    if m:
        return f"relation.classifier.{m[2]}" if m[1] == "3" else f"relation.fusion.{m[1]}.{m[2]}"
    m = re.fullmatch(r"fc_fusion_scales\.(\d+)\.(\d+)\.(weight|bias)", rest)  # both repos, multi-scale
    if m:
        if m[2] == "3":  # TRN repo keeps each scale's classifier inside the Sequential
            return f"relation.classifiers.{m[1]}.{m[3]}"
        return f"relation.fusion_scales.{m[1]}.{m[2]}.{m[3]}"
    return "relation." + rest


HEADS = ("verb", "noun")


def check_head(head: str) -> None:
    """Refuse a ``head`` other than ``"verb"``/``"noun"`` with one line."""
    if head not in HEADS:
        raise ValueError(
            f"head={head!r}: choose 'verb' or 'noun' (the classifier of two-head EPIC-Kitchens files)"
        )


def convert_tsn_family(state: StateDict, model: nn.Module, head: str = "verb") -> StateDict:
    """TSM-repo / EPIC / TRN-repo layout (``base_model.*``, ``new_fc``, ``fc_verb``/``fc_noun``,
    ``consensus.*``) to vai names. ``head`` picks ``verb`` or ``noun`` from two-head checkpoints."""
    check_head(head)
    head_index = 0 if head == "verb" else 1
    model_state = model.state_dict()
    out: StateDict = {}
    epic_scales: dict[tuple[int, str], torch.Tensor] = {}
    for key, value in state.items():
        m = _EPIC_SCALE_CLASSIFIER.fullmatch(key)
        if m:  # EPIC multi-scale, [scale][task]: collected, then shifted as upstream's forward uses them
            if int(m[2]) == head_index:
                epic_scales[(int(m[1]), m[3])] = value
            continue
        if key.startswith("base_model."):
            if any(key.startswith("base_model." + ll) for ll in _LAST_LINEAR):
                continue  # the ImageNet classifier left inside the backbone
            out[_backbone(key)] = value
        elif key.startswith("new_fc."):
            new = _head_target(model) + key[len("new_fc") :]
            out[new] = _pick_rows(new, value, model_state, head)
        elif key.startswith(("fc_verb.", "fc_noun.")):
            if key.startswith(f"fc_{head}."):
                out["fc" + key[len("fc_verb") :]] = value
        elif key.startswith("consensus."):
            new = _convert_relation(key, head_index)
            if new is not None:
                out[new] = value
        else:
            out[key] = value
    out.update(_shift_epic_scale_classifiers(epic_scales))
    return out


def convert_tsm_repo(state: StateDict, model: nn.Module) -> StateDict:
    """The TSM repository's ``.pth`` (``module.base_model.*``, shifted ``conv1.net``, ``new_fc``)."""
    return convert_tsn_family(state, model)


def convert_epic_kitchens(state: StateDict, model: nn.Module, head: str = "verb") -> StateDict:
    """EPIC-Kitchens TSN/TRN/TSM checkpoints; keeps the ``head`` ("verb"/"noun") classifier."""
    return convert_tsn_family(state, model, head=head)


def convert_torchvision_imagenet(
    state: StateDict, model: nn.Module, keep_fc: bool | None = None
) -> StateDict:
    """A torchvision ImageNet ResNet state_dict into ``backbone.*``.

    The ImageNet ``fc`` goes to the model's ``fc`` only when ``keep_fc`` (default: when the shapes
    match, e.g. a 1000-class image model); otherwise it is dropped.
    """
    out = {"backbone." + k: v for k, v in state.items() if not k.startswith("fc.")}
    own = model.state_dict()
    out.update(_adapt_first_conv(out, own))
    if keep_fc is None:
        keep_fc = "fc.weight" in state and own.get("fc.weight") is not None
        keep_fc = keep_fc and own["fc.weight"].shape == state["fc.weight"].shape
    if keep_fc:
        out.update({k: v for k, v in state.items() if k.startswith("fc.")})
    return out


def _adapt_first_conv(state: StateDict, own: StateDict, key: str = "backbone.conv1.weight") -> StateDict:
    """RGB stem -> C-channel stem (flow stacks, greyscale): average the RGB kernel over its 3 input
    channels and repeat it C times, as upstream TSN builds flow models from ImageNet ones."""
    if key not in state or key not in own:
        return {}
    w, target = state[key], own[key]
    if w.dim() != 4 or target.dim() != 4 or w.shape[1] != 3 or target.shape[1] == 3:
        return {}
    if w.shape[0] != target.shape[0] or w.shape[2:] != target.shape[2:]:
        return {}
    logger.info("adapting %s from %d to %d input channels (mean over RGB)", key, w.shape[1], target.shape[1])
    return {key: w.mean(dim=1, keepdim=True).expand(-1, target.shape[1], -1, -1).contiguous()}


def detect_layout(state: StateDict, model: nn.Module) -> str:
    """Guess the key layout of ``state``: one of ``vai``, ``tsm``, ``epic``, ``trn``, ``torchvision``."""
    keys = list(state)
    if any(k.startswith("base_model.") for k in keys):
        if any(
            k.startswith(("fc_verb.", "fc_noun.", "consensus.pre_classifier", "consensus.classifiers"))
            for k in keys
        ):
            return "epic"
        if any(k.startswith("consensus.") for k in keys):
            return "trn"
        fc = state.get("new_fc.weight")
        if fc is not None and fc.dim() == 2 and fc.shape[0] in {v + n for v, n in EPIC_CLASS_COUNTS.values()}:
            return "epic"  # an EPIC-100 C1 baseline: the TSM repo's keys, one concatenated verb+noun head
        return "tsm"
    own = model.state_dict()
    if (
        "conv1.weight" in state
        and any(k.startswith("layer1.") for k in keys)
        and "backbone.conv1.weight" in own
    ):
        return "torchvision"
    return "vai"


def convert_state_dict(
    state: StateDict, model: nn.Module, layout: str = "auto", head: str = "verb"
) -> tuple[StateDict, str]:
    """Convert ``state`` from ``layout`` (or the detected one) to vai names; returns (state, layout)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown checkpoint layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if layout == "auto":
        layout = detect_layout(state, model)
        logger.debug("detected checkpoint layout %r", layout)
    if layout in ("tsm", "epic", "trn"):
        out = convert_tsn_family(state, model, head=head)
    elif layout == "torchvision":
        return convert_torchvision_imagenet(state, model), layout
    else:
        out = dict(state)
    out.update(_adapt_first_conv(out, model.state_dict()))  # an RGB checkpoint into a flow/grey model
    return out, layout
