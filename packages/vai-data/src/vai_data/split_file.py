"""Upstream PyVideoAI split CSVs: read and write the video (7), frames (5), gulp (5) and image (3) formats.

The first line is the header ``num_classes`` (0 = single-label, N > 0 = multi-label with comma-separated
labels); every following line is space-separated with an integer ``video_id``.
"""

from __future__ import annotations

import numbers
import os
import string
from collections.abc import Iterable
from dataclasses import dataclass

from .pathio import get_path_manager, is_native, write_local_atomic

FORMAT_COLUMNS: dict[str, tuple[str, ...]] = {
    "video": ("path", "video_id", "label", "start", "end", "width", "height"),
    "frames": ("pattern", "video_id", "label", "start", "end"),
    "gulp": ("gulp_key", "video_id", "label", "start", "end"),
    "image": ("path", "image_id", "label"),
}


PACKED_SUFFIX = ".vpk"  # a packed store file (vai_data.packed reads and re-exports it)


class SplitFormatError(ValueError):
    """A split CSV line that does not match its format; the message names file, line and columns."""


@dataclass(frozen=True)
class SplitRow:
    """One line of a split file; ``start``/``end`` are inclusive frame numbers."""

    path: str
    video_id: int
    label: int | tuple[int, ...]
    start: int | None = None
    end: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass
class SplitFile:
    """A parsed split file: header, format and rows."""

    num_classes: int
    fmt: str
    rows: list[SplitRow]
    path: str | None = None

    @property
    def multilabel(self) -> bool:
        """True when the header declares a multi-label file (``num_classes > 0``)."""
        return self.num_classes > 0

    def __len__(self) -> int:
        return len(self.rows)


def _expected(fmt: str) -> str:
    return (
        f"{len(FORMAT_COLUMNS[fmt])} space-separated columns '{' '.join(FORMAT_COLUMNS[fmt])}' ({fmt} format)"
    )


def _infer_format(ncols: int, first_path: str) -> str | None:
    if ncols == 7:
        return "video"
    if ncols == 5:
        return "frames" if "{" in first_path else "gulp"
    if ncols == 3:
        return "image"
    return None


def _parse_int(text: str, what: str, where: str, fmt: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SplitFormatError(
            f"{where}: {what} {text!r} is not an integer; expected {_expected(fmt)}"
        ) from None


def _parse_label(
    text: str, multilabel: bool, num_classes: int, where: str, fmt: str
) -> int | tuple[int, ...]:
    parts = text.split(",")
    if text == "":
        raise SplitFormatError(f"{where}: empty label; expected {_expected(fmt)}")
    if "" in parts:
        raise SplitFormatError(
            f"{where}: label {text!r} has an empty class between commas; expected {_expected(fmt)} "
            "with comma-separated class numbers like 3,17"
        )
    values = tuple(_parse_int(p, "label", where, fmt) for p in parts)
    if not multilabel:
        if len(values) != 1:
            raise SplitFormatError(
                f"{where}: label {text!r} has several classes but the header is 0 (single-label); expected "
                f"{_expected(fmt)} with one class, or the number of classes as header for a multi-label file"
            )
        if values[0] < 0:
            raise SplitFormatError(f"{where}: negative label {values[0]}; expected {_expected(fmt)}")
        return values[0]
    for v in values:
        if not 0 <= v < num_classes:
            raise SplitFormatError(
                f"{where}: label {v} is outside [0, {num_classes}) declared in the header; expected {_expected(fmt)}"
            )
    return values


def frame_pattern_problem(pattern: str) -> str | None:
    """Why a frames pattern cannot name each frame's file (no frame-number placeholder such as ``{:05d}``,
    ``{frame:05d}``, ``{:d}`` or ``{}``: every frame would read the same file; or not a format string), or
    None when it can."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
    except ValueError as e:
        return f"frames pattern {pattern!r} is not a valid format string ({e})"
    if not any(f != "flow_direction" for f in fields):
        return (
            f"frames pattern {pattern!r} has no frame-number placeholder such as {{:05d}}; every frame would "
            "read the same file"
        )
    return None


def _check_frame_pattern(pattern: str, where: str) -> None:
    """A frames row's pattern must name the frame number (:func:`frame_pattern_problem`)."""
    problem = frame_pattern_problem(pattern)
    if problem is not None:
        raise SplitFormatError(f"{where}: {problem}")


def _parse_row(cols: list[str], fmt: str, num_classes: int, where: str) -> SplitRow:
    """One row's columns (already split, count checked) -> :class:`SplitRow`; the rules every split file
    row must meet, shared by the reader and the writer."""
    video_id = _parse_int(cols[1], FORMAT_COLUMNS[fmt][1], where, fmt)
    label = _parse_label(cols[2], num_classes > 0, num_classes, where, fmt)
    if fmt == "image":
        return SplitRow(cols[0], video_id, label)
    if fmt == "frames":
        _check_frame_pattern(cols[0], where)
    start = _parse_int(cols[3], "start", where, fmt)
    end = _parse_int(cols[4], "end", where, fmt)
    if start < 0 or end < start:
        raise SplitFormatError(
            f"{where}: frame range {start}..{end} is empty or negative; expected 0 <= start <= end in "
            f"{_expected(fmt)}"
        )
    width = height = None
    if fmt == "video":
        width = _parse_int(cols[5], "width", where, fmt)
        height = _parse_int(cols[6], "height", where, fmt)
    return SplitRow(cols[0], video_id, label, start, end, width, height)


def parse_split_lines(lines: list[str], fmt: str | None = None, name: str = "<split>") -> SplitFile:
    """Parse the text lines of a split file (header first); see :func:`read_split_file`."""
    if fmt is not None and fmt not in FORMAT_COLUMNS:
        raise ValueError(f"unknown split format {fmt!r}; choose one of {sorted(FORMAT_COLUMNS)}")
    header = lines[0].lstrip("\ufeff").strip() if lines else ""  # (a byte-order mark is not part of it)
    if not header:
        raise SplitFormatError(
            f"{name}:1: missing header; expected the number of classes (0 for single-label)"
        )
    try:
        num_classes = int(header)
    except ValueError:
        raise SplitFormatError(
            f"{name}:1: header {header!r} is not an integer; expected the number of classes (0 for single-label)"
        ) from None
    if num_classes < 0:
        raise SplitFormatError(
            f"{name}:1: negative header {num_classes}; expected 0 or the number of classes"
        )
    rows: list[SplitRow] = []
    for lineno, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line:
            continue
        cols = line.split()
        where = f"{name}:{lineno}"
        if fmt is None:
            fmt = _infer_format(len(cols), cols[0])
            if fmt is None:
                raise SplitFormatError(
                    f"{where}: {len(cols)} columns; expected 7 (video), 5 (frames/gulp) or 3 (image) space-separated columns"
                )
        if len(cols) != len(FORMAT_COLUMNS[fmt]):
            raise SplitFormatError(f"{where}: {len(cols)} columns; expected {_expected(fmt)}")
        rows.append(_parse_row(cols, fmt, num_classes, where))
    return SplitFile(num_classes=num_classes, fmt=fmt or "video", rows=rows, path=name)


def read_split_file(path: str | os.PathLike, fmt: str | None = None) -> SplitFile:
    """Read an upstream split CSV (UTF-8, a leading byte-order mark is ignored); ``fmt`` is inferred from
    the column count when None."""
    path = os.fspath(path)
    pm = get_path_manager()
    if not pm.exists(path):
        raise FileNotFoundError(
            f"split file {path} does not exist; generate it with `vai-data splits` or `vai-data synth`"
        )
    try:
        with pm.open(path, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        raise IsADirectoryError(
            f"split file {path} is a folder, not a split CSV; give the CSV's path (e.g. {path}/train.csv)"
        ) from None
    try:
        text = data.decode("utf-8-sig")  # editors on Windows may save a BOM before the header
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise SplitFormatError(
            f"{path}:{line}: not UTF-8 text ({e.reason} at byte {e.start}); expected a split CSV"
        ) from None
    return parse_split_lines(text.splitlines(), fmt=fmt, name=path)


def _label_text(label, where: str) -> str:
    """A row's label column: an int, or a sequence of ints (tuple, list, 1-D array) as ``3,17``."""
    if hasattr(label, "tolist") and not isinstance(label, (str, bytes)):
        label = label.tolist()  # numpy / torch integers and arrays
    if isinstance(label, (tuple, list)):
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in label):
            raise SplitFormatError(f"{where}: label {label!r} must hold class numbers (ints)")
        return ",".join(str(int(v)) for v in label)
    if not isinstance(label, numbers.Integral) or isinstance(label, bool):
        raise SplitFormatError(f"{where}: label {label!r} must be an int, or a tuple of ints (multi-label)")
    return str(int(label))


def _format_row(row: SplitRow, fmt: str, num_classes: int, where: str) -> str:
    """The line of ``row``, checked by the reader's own rules (:func:`_parse_row`) so every file written
    can be read back; ``where`` names the row in errors."""
    if not isinstance(row, SplitRow):
        raise SplitFormatError(f"{where}: expected a SplitRow, got {type(row).__name__}")
    path = row.path
    if type(path) is not str:
        if not isinstance(path, (str, os.PathLike)):
            raise SplitFormatError(f"{where}: path {path!r} must be a str or os.PathLike")
        path = str(os.fspath(path))  # (a pathlib.Path)
    if not path or any(c.isspace() for c in path):
        raise SplitFormatError(
            f"{where}: path {path!r} is empty or contains whitespace, which the space-separated format "
            "cannot hold"
        )
    label = _label_text(row.label, where)
    cols = [path, str(row.video_id), label]
    if fmt in ("video", "frames", "gulp"):
        if row.start is None or row.end is None:
            raise SplitFormatError(f"{where}: {fmt} format needs start and end frames")
        cols += [str(row.start), str(row.end)]
    if fmt == "video":
        if row.width is None or row.height is None:
            raise SplitFormatError(f"{where}: video format needs width and height")
        cols += [str(row.width), str(row.height)]
    bad = next((c for c in cols[1:] if any(ch.isspace() for ch in c)), None)
    if bad is not None:
        raise SplitFormatError(f"{where}: value {bad!r} contains whitespace; expected {_expected(fmt)}")
    problem = frame_pattern_problem(path) if fmt == "frames" and path.endswith(PACKED_SUFFIX) else None
    if problem is not None:
        raise SplitFormatError(
            f"{where}: {problem}; rows of packed .vpk files (and of an LMDB, bare keys) "
            "are 5-column keyed rows: write them with fmt 'gulp', as pack_split does"
        )
    _parse_row(cols, fmt, num_classes, where)
    return " ".join(cols)


def write_split_file(
    path: str | os.PathLike, rows: Iterable[SplitRow], fmt: str, num_classes: int = 0
) -> None:
    """Write a split CSV; a local one atomically (temp file + rename), creating parent directories, one behind
    a registered iopath handler in one write through the handler (not atomic; its folder must exist, else
    one ``FileNotFoundError`` line). The file is UTF-8
    with ``\\n`` line ends whatever the locale, as :func:`read_split_file` reads it. Every row is first
    checked against the rules :func:`read_split_file` enforces; a bad one raises :class:`SplitFormatError`
    (a ``ValueError``) naming it as ``rows[i]`` and nothing is written. A row's path may be an
    ``os.PathLike`` (written as its string); a ``path`` that is a folder, or whose parent is a file, raises
    one line naming it (``IsADirectoryError``, ``NotADirectoryError``)."""
    if fmt not in FORMAT_COLUMNS:
        raise ValueError(f"unknown split format {fmt!r}; choose one of {sorted(FORMAT_COLUMNS)}")
    path = os.fspath(path)
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 0:
        raise ValueError(f"{path}: num_classes {num_classes!r} must be an integer >= 0 (0 for single-label)")
    lines = [str(int(num_classes))]
    for i, row in enumerate(rows):
        lines.append(_format_row(row, fmt, int(num_classes), f"{path}: rows[{i}]"))
    data = ("\n".join(lines) + "\n").encode("utf-8")  # UTF-8 and \n whatever the locale, as the reader wants
    if not is_native(path):  # a registered iopath handler: no rename available, write through it
        try:
            with get_path_manager().open(path, "wb") as f:
                f.write(data)
        except FileNotFoundError as e:  # (iopath names the handler's local or remote path, if any)
            raise FileNotFoundError(
                f"cannot write split file {path} through its iopath handler ({e}): paths behind a handler get "
                "no parent folders created; create its folder first"
            ) from None
        return
    write_local_atomic(path, [data], prefix=".split-", what="split file")
