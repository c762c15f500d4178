"""``vai-models`` command line: ``list``, ``flops`` (GFLOPs/params of one model) and ``table``
(a markdown table of every registered model at its default input)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import torch

from .complexity import default_input_shape, flops, params
from .registry import create_model, get_model_builder, list_models

logger = logging.getLogger(__name__)


def _spec(cfg: dict, shape: Sequence[int]) -> str:
    dims = "x".join(str(d) for d in shape[1:])
    if len(shape) == 2:
        return f"features ({dims})"
    scale = "[0,255]" if cfg.get("input_range", 1.0) != 1.0 else "[0,1]"
    order = "BGR" if cfg.get("bgr") else "RGB"
    return f"{dims} (CxTxHxW), {order} {scale}"


#: short labels for the normalisation statistics models share (full values in docs/models.md)
_NAMED_STATS = {
    ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)): "ImageNet",
    ((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)): "Kinetics (torchvision)",
}


def _norm(cfg: dict) -> str:
    """``mean / std`` of ``cfg`` as a short label, or the numbers when all channels share one value."""
    mean, std = tuple(cfg.get("mean", ())), tuple(cfg.get("std", ()))
    if not mean:
        return "-"
    rounded = (tuple(round(m, 6) for m in mean), tuple(round(s, 6) for s in std))
    if rounded in _NAMED_STATS:
        return _NAMED_STATS[rounded]
    if len(set(mean)) == 1 and len(set(std)) == 1:
        return f"{mean[0]:g} / {std[0]:g}"
    return f"{', '.join(f'{m:g}' for m in mean)} / {', '.join(f'{s:g}' for s in std)}"


def model_row(name: str, num_classes: int = 400, num_frames: int | None = None) -> dict:
    """Params (M), GFLOPs and input spec of ``name`` at its default input (build on CPU, zero input)."""
    frames = num_frames or get_model_builder(name).default_num_frames
    model = create_model(name, num_classes=num_classes, num_frames=frames)
    shape = default_input_shape(model)
    return {
        "name": name,
        "params_m": params(model) / 1e6,
        "gflops": flops(model, shape),
        "input": _spec(model.default_cfg, shape),
        "norm": _norm(model.default_cfg) if len(shape) > 2 else "-",
    }


def _cmd_list(args: argparse.Namespace) -> int:
    for name in list_models(args.pattern):
        print(name)
    return 0


def format_gflops(gflops: float) -> str:
    """GFLOPs with 2 decimals, 4 below 0.1 (so ``feature_mlp``'s 0.0003 does not print as 0.00)."""
    return f"{gflops:.4f}" if gflops < 0.1 else f"{gflops:.2f}"


def _cmd_flops(args: argparse.Namespace) -> int:
    # without --frames/--crop: the model's own recipe clip, as flops(model) and `vai-models table` use
    frames = args.frames or get_model_builder(args.model).default_num_frames
    model = create_model(
        args.model, num_classes=args.num_classes, num_frames=frames, in_channels=args.in_channels
    )
    shape = default_input_shape(model)
    if args.crop is not None and len(shape) == 5:
        shape = (*shape[:3], args.crop, args.crop)
    total, per_module = flops(model, shape, by_module=True)
    print(
        f"{args.model}: {format_gflops(total)} GFLOPs, {params(model) / 1e6:.2f} M params "
        f"(input {'x'.join(map(str, shape))}, {args.num_classes} classes)"
    )
    if args.by_module:
        for mod, g in per_module.items():
            if mod and mod.count(".") < 2:
                print(f"  {mod:<40s} {g:10.3f} GFLOPs")
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    names = list_models(args.pattern)
    try:
        from tqdm import tqdm

        names_iter = tqdm(names, desc="models", file=sys.stderr, leave=False)
    except ImportError:  # tqdm is optional here
        names_iter = names
    rows = []
    for name in names_iter:
        try:
            rows.append(model_row(name, args.num_classes))
        except Exception as exc:  # one broken model must not hide the others
            logger.error("%s: could not measure (%s: %s)", name, type(exc).__name__, exc)
            rows.append({"name": name, "params_m": float("nan"), "gflops": float("nan"), "input": "error"})
    print(f"| model | params (M) | GFLOPs | input ({args.num_classes} classes) | mean / std |")
    print("|---|---:|---:|---|---|")
    for r in rows:
        g = format_gflops(r["gflops"])
        print(f"| `{r['name']}` | {r['params_m']:.2f} | {g} | {r['input']} | {r.get('norm', '-')} |")
    return 0


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def positive_int(text: str) -> int:
    """argparse type: an int >= 1 (so ``--crop 0`` is a usage error, not a traceback from torch)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vai-models``."""
    parser = argparse.ArgumentParser(prog="vai-models", description=__doc__)
    parser.add_argument(
        "-L",
        "--log-level",
        default="WARNING",
        type=str.upper,
        choices=LOG_LEVELS,
        help="logging level, case-insensitive (default WARNING)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="print registered model names")
    p.add_argument("pattern", nargs="?", default=None, help="shell-style filter, e.g. 'tsm_*'")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("flops", help="GFLOPs (1 multiply-add = 1 FLOP) and params of one model")
    p.add_argument("-M", "--model", required=True, help="registered model name (see `vai-models list`)")
    p.add_argument(
        "--frames",
        type=positive_int,
        default=None,
        help="number of frames / segments (default: the model's recipe, get_model_builder(name).default_num_frames)",
    )
    p.add_argument(
        "--crop",
        type=positive_int,
        default=None,
        help="crop size (default: the model's default_cfg crop_size)",
    )
    p.add_argument("--num-classes", type=positive_int, default=400, help="classifier outputs (default 400)")
    p.add_argument("--in-channels", type=positive_int, default=3, help="input channels (default 3)")
    p.add_argument(
        "--by-module",
        action="store_true",
        help="after the summary line, also print GFLOPs per module down to two name levels "
        "(e.g. backbone and backbone.layer1)",
    )
    p.set_defaults(func=_cmd_flops)

    p = sub.add_parser("table", help="markdown table of every model: params, GFLOPs, input spec")
    p.add_argument("pattern", nargs="?", default=None, help="shell-style filter, e.g. 'tsm_*'")
    p.add_argument("--num-classes", type=positive_int, default=400, help="classifier outputs (default 400)")
    p.set_defaults(func=_cmd_table)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vai-models`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        with torch.no_grad():
            return args.func(args)
    except (KeyError, ValueError, TypeError) as exc:  # user errors: unknown name, bad sizes or options
        logger.debug("traceback", exc_info=True)
        print(f"vai-models {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # anything else from building or counting: one line, traceback at DEBUG
        logger.debug("traceback", exc_info=True)
        print(
            f"vai-models {args.command}: error: {type(exc).__name__}: {_one_line(exc)} "
            "(run with -L DEBUG for the traceback)",
            file=sys.stderr,
        )
        return 1


def _one_line(exc: BaseException) -> str:
    """The first non-empty line of ``exc``'s message (torch errors can span many lines)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
