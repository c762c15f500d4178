"""Reading official annotation files (text, csv, json) for the split generators: UTF-8 with or without a
byte-order mark, and an :class:`AnnotationError` naming the file and line for anything unreadable."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path


class AnnotationError(ValueError):
    """An official annotation file (or its line) that cannot be parsed; the message names file and line."""


def annotation_error(path: str | os.PathLike, line: int | None, message: str) -> AnnotationError:
    """Build the one-line error ``<file>:<line>: <message>`` for a malformed annotation."""
    where = f"{os.fspath(path)}:{line}" if line is not None else os.fspath(path)
    return AnnotationError(f"{where}: {message}")


def require_file(path: str | os.PathLike, what: str) -> Path:
    """Return ``path`` as a Path, or raise one clear line when the official file is missing."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"{what} not found at {p}; pass the path of the file from the official download"
        )
    return p


def first_existing(folder: str | os.PathLike, names: Sequence[str]) -> Path:
    """The first of ``names`` that exists in ``folder`` (the first name when none does, for the error)."""
    folder = Path(folder)
    return next((folder / n for n in names if (folder / n).is_file()), folder / names[0])


def read_annotation_text(path: str | os.PathLike) -> str:
    """The whole text of an annotation file decoded as UTF-8 (a leading byte-order mark is dropped).

    A file in another encoding raises one :class:`AnnotationError` naming the file, the line and the
    byte that is not UTF-8; a UTF-16 file is recognised by its byte-order mark or, without one, its NULs.
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _not_utf8_error(path, data, e) from None
    nul = text.find("\x00")
    if nul >= 0:  # UTF-16 without a byte-order mark decodes as UTF-8 with a NUL after each ASCII letter
        line = text.count("\n", 0, nul) + 1
        raise annotation_error(path, line, "contains NUL bytes (UTF-16 text?); save the file as UTF-8")
    return text


def _not_utf8_error(path: str | os.PathLike, data: bytes, e: UnicodeDecodeError) -> AnnotationError:
    """The one-line error for an annotation file that is not UTF-8, at the line of the bad byte."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return annotation_error(
            path, 1, "UTF-16 text (a UTF-16 byte-order mark starts it); save the file as UTF-8"
        )
    line_start = data.rfind(b"\n", 0, e.start) + 1
    line = data.count(b"\n", 0, e.start) + 1
    return annotation_error(
        path,
        line,
        f"not UTF-8 text (byte 0x{data[e.start]:02x} at column {e.start - line_start + 1}: {e.reason}); "
        "save the file as UTF-8, e.g. iconv -f latin1 -t utf-8",
    )


def read_text_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, stripped_line)`` for the non-blank lines of a UTF-8 text file (1-based)."""
    for lineno, raw in enumerate(io.StringIO(read_annotation_text(path), newline=None), start=1):
        line = raw.strip()
        if line:
            yield lineno, line


def _csv_records(path: str | os.PathLike, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first_line, values)`` for each record of a UTF-8 CSV file; a record the csv module cannot
    parse (a stray double quote that swallows the following lines) raises one line naming where it starts."""
    reader = csv.reader(io.StringIO(read_annotation_text(path), newline=""), delimiter=delimiter)
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise annotation_error(
                path, start, f"malformed CSV record ({e}); look for an unmatched double quote on this line"
            ) from None
        yield start, values


def read_csv_header(path: str | os.PathLike, delimiter: str = ",") -> list[str]:
    """The stripped column names of a CSV file's first record (empty for an empty file)."""
    first = next(_csv_records(path, delimiter), None)
    return [] if first is None else [h.strip() for h in first[1]]


def read_csv_rows(
    path: str | os.PathLike, required: Sequence[str], delimiter: str = ","
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row_dict)`` of a CSV with a header; checks the header has ``required`` columns."""
    records = _csv_records(path, delimiter)
    first = next(records, None)
    if first is None:
        raise annotation_error(path, 1, f"empty file; expected a header with columns {', '.join(required)}")
    header = [h.strip() for h in first[1]]
    missing = [c for c in required if c not in header]
    if missing:
        raise annotation_error(
            path,
            first[0],
            f"header lacks column(s) {', '.join(missing)}; expected columns {', '.join(required)}",
        )
    for lineno, values in records:
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            spans = any("\n" in v for v in values)  # a quoted field ran over several lines
            hint = "; a field spans several lines: look for an unmatched double quote" if spans else ""
            raise annotation_error(
                path,
                lineno,
                f"{len(values)} fields but the header has {len(header)} ({','.join(header)}){hint}",
            )
        yield lineno, {k: v.strip() for k, v in zip(header, values, strict=True)}


def read_json(path: str | os.PathLike) -> object:
    """Load a UTF-8 JSON annotation file (a leading byte-order mark is accepted), naming the file and
    position on a syntax error."""
    try:
        return json.loads(read_annotation_text(path))
    except json.JSONDecodeError as e:
        raise annotation_error(path, e.lineno, f"invalid JSON ({e.msg}, column {e.colno})") from None


def parse_int(text: str, path: str | os.PathLike, line: int | None, what: str) -> int:
    """``int(text)`` or an :class:`AnnotationError` naming the field."""
    try:
        return int(str(text).strip())
    except ValueError:
        raise annotation_error(path, line, f"{what} {text!r} is not an integer") from None
