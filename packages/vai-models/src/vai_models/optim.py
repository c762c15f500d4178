"""Parameter groups in the style of upstream TSN's ``get_optim_policies``: first conv, other
weights, biases (2× lr, no decay) and normalisation layers (no decay), ready for ``torch.optim``."""

from __future__ import annotations

from torch import nn

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORM = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)


def get_optim_policies(
    model: nn.Module,
    lr: float | None = None,
    weight_decay: float | None = None,
    first_conv_lr_mult: float = 1.0,
) -> list[dict]:
    """Split trainable parameters into upstream's groups, each with ``lr_mult`` and ``decay_mult``.

    With ``lr``/``weight_decay`` given, each group also gets ``lr = lr·lr_mult`` and
    ``weight_decay = weight_decay·decay_mult`` so the list can go straight into an optimiser.
    Frozen parameters (e.g. partial-BN layers) are left out; empty groups are dropped.
    ``first_conv_lr_mult`` is 5 for optical-flow inputs upstream.
    """
    groups = {
        "first_conv_weight": ([], first_conv_lr_mult, 1),
        "first_conv_bias": ([], 2 * first_conv_lr_mult, 0),
        "normal_weight": ([], 1, 1),
        "normal_bias": ([], 2, 0),
        "norm": ([], 1, 0),
    }
    seen: set[int] = set()
    first_conv_done = False
    for module in model.modules():
        own = [p for p in module.parameters(recurse=False) if p.requires_grad and id(p) not in seen]
        if not own:
            continue
        seen.update(id(p) for p in own)
        if isinstance(module, _NORM):
            groups["norm"][0].extend(own)
            continue
        is_first = isinstance(module, _CONV) and not first_conv_done
        first_conv_done = first_conv_done or isinstance(module, _CONV)
        for name, p in module.named_parameters(recurse=False):
            if id(p) not in {id(q) for q in own}:
                continue
            kind = "bias" if name == "bias" or p.dim() == 1 else "weight"
            groups[f"{'first_conv' if is_first else 'normal'}_{kind}"][0].append(p)
    out = []
    for name, (ps, lr_mult, decay_mult) in groups.items():
        if not ps:
            continue
        g = {"params": ps, "lr_mult": lr_mult, "decay_mult": decay_mult, "name": name}
        if lr is not None:
            g["lr"] = lr * lr_mult
        if weight_decay is not None:
            g["weight_decay"] = weight_decay * decay_mult
        out.append(g)
    return out
