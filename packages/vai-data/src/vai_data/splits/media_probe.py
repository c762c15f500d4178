"""What the split generators learn from the media themselves: a video's frame count and size from its
container, and a frame folder's numbering (zero-padded or not, RGB frames told from flow files)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..decode import probe_video
from ..errors import VideoDecodeError

FRAME_FILE_RE = re.compile(r"^(?P<prefix>.*?)(?P<digits>\d+)(?P<ext>\.(?:jpg|jpeg|png))$", re.IGNORECASE)


@dataclass(frozen=True)
class MediaInfo:
    """What a probe learned: frame count, first frame number, size and (frames) the file pattern."""

    num_frames: int
    first: int = 0
    width: int | None = None
    height: int | None = None
    pattern: str | None = None


def probe_video_info(path: str | os.PathLike) -> MediaInfo:
    """Frame count and size of a video from its container metadata (PyAV, no decoding)."""
    try:
        n, width, height = probe_video(os.fspath(path))
    except VideoDecodeError as e:
        raise ValueError(str(e)) from None
    if n <= 0 or not width or not height:
        raise ValueError(f"cannot decode {path}: no frames or zero size in the container")
    return MediaInfo(num_frames=n, first=0, width=width, height=height)


@dataclass(frozen=True)
class FrameNumbering:
    """One numbered sequence of files in a frame folder: ``prefix`` + number + ``ext``, the number
    zero-padded to ``width`` digits (``width`` <= 1: unpadded, as ffmpeg's ``%d`` writes)."""

    prefix: str
    ext: str
    width: int
    numbers: tuple[int, ...]  # sorted

    @property
    def pattern(self) -> str:
        """The split-file pattern, e.g. ``img_{:05d}.jpg`` or ``{:d}.jpg``."""
        spec = "{:d}" if self.width <= 1 else f"{{:0{self.width}d}}"
        return f"{escape_braces(self.prefix)}{spec}{escape_braces(self.ext)}"


def probe_frame_folder(folder: str | os.PathLike) -> MediaInfo:
    """Count the numbered images of a frame folder; returns the first number and the file pattern.

    Zero-padded (``{:05d}``) and unpadded (``{:d}``: ``1.jpg … 150.jpg``) numbering are both recognised.
    When several sequences share the folder (``img_*``, ``flow_x_*``, ``flow_y_*``), flow files are set
    aside, then the longest sequence wins, an RGB-like prefix (``img_``, ``frame_``, none) breaking a tie.
    A tie that remains, or a gap in the chosen numbering, raises one ``ValueError`` line naming the folder.
    """
    groups = _scan_frame_files(folder)
    if not groups:
        raise ValueError(f"frame folder {folder} holds no numbered .jpg/.png files")
    candidates = [n for (prefix, ext), digits in groups.items() for n in _numberings(prefix, ext, digits)]
    chosen = _choose_numbering(folder, candidates)
    _check_no_gap(folder, chosen)
    first, last = chosen.numbers[0], chosen.numbers[-1]
    return MediaInfo(num_frames=last - first + 1, first=first, pattern=chosen.pattern)


def _scan_frame_files(folder: str | os.PathLike) -> dict[tuple[str, str], list[str]]:
    """The digit strings of the numbered image files in ``folder``, by (prefix, extension)."""
    groups: dict[tuple[str, str], list[str]] = {}
    with os.scandir(folder) as it:
        for entry in it:
            m = FRAME_FILE_RE.match(entry.name)
            if m is not None and entry.is_file():
                groups.setdefault((m["prefix"], m["ext"]), []).append(m["digits"])
    return groups


def _numberings(prefix: str, ext: str, digits: list[str]) -> list[FrameNumbering]:
    """The numbering(s) of one prefix/extension group: one when the digit strings agree on a padding,
    else one per digit count (a folder mixing paddings)."""
    padded_widths = {len(d) for d in digits if len(d) > 1 and d[0] == "0"}
    lengths = {len(d) for d in digits}
    if not padded_widths:  # no leading zeros: unpadded numbers (or one common width, padded or not)
        width = lengths.pop() if len(lengths) == 1 else 0
        return [FrameNumbering(prefix, ext, width, tuple(sorted(int(d) for d in digits)))]
    width = min(padded_widths)
    if len(padded_widths) == 1 and min(lengths) >= width:  # longer numbers simply outgrew the padding
        return [FrameNumbering(prefix, ext, width, tuple(sorted(int(d) for d in digits)))]
    by_length: dict[int, list[int]] = {}
    for d in digits:
        by_length.setdefault(len(d), []).append(int(d))
    return [FrameNumbering(prefix, ext, n, tuple(sorted(v))) for n, v in sorted(by_length.items())]


def _is_flow_prefix(prefix: str) -> bool:
    """True for optical-flow file prefixes: ``flow_x_``, ``flow_y_``, ``x_``, ``u_`` ..."""
    p = prefix.lower().rstrip("_-.")
    return "flow" in p or p in ("x", "y", "u", "v") or p.endswith(("_x", "_y", "_u", "_v"))


def _is_rgb_prefix(prefix: str) -> bool:
    """True for the usual RGB frame prefixes: none, ``img_``, ``image_``, ``frame_``, ``rgb_``."""
    return prefix.lower().rstrip("_-.") in ("", "img", "image", "frame", "frames", "rgb")


def _choose_numbering(folder: str | os.PathLike, candidates: list[FrameNumbering]) -> FrameNumbering:
    """The RGB frame sequence among ``candidates``: flow set aside, then the longest; an RGB-like
    prefix breaks a tie, and a tie it cannot break raises."""
    pool = [c for c in candidates if not _is_flow_prefix(c.prefix)] or candidates
    most = max(len(c.numbers) for c in pool)
    tied = [c for c in pool if len(c.numbers) == most]
    if len(tied) > 1:
        tied = [c for c in tied if _is_rgb_prefix(c.prefix)] or tied
    if len(tied) > 1:
        names = ", ".join(sorted(c.pattern for c in tied))
        raise ValueError(
            f"frame folder {folder} holds {len(tied)} numbered sequences of {most} files ({names}); "
            "cannot tell which are the frames, move the others out"
        )
    return tied[0]


def _check_no_gap(folder: str | os.PathLike, numbering: FrameNumbering) -> None:
    """Raise one line when ``numbering`` skips numbers: a split row's range must name every file."""
    nums = numbering.numbers
    first, last = nums[0], nums[-1]
    if last - first + 1 == len(nums):
        return
    missing = next(n for n, m in zip(range(first, last + 1), nums, strict=False) if n != m)
    raise ValueError(
        f"frame folder {folder}: {numbering.pattern} numbers {first}..{last} lack "
        f"{last - first + 1 - len(nums)} file(s), the first {numbering.pattern.format(missing)}; "
        "extract the frames again"
    )


def escape_braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")
