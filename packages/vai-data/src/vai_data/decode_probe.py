"""Which video files decord 0.6 (and torchcodec) seek in inexactly, judged once per path from the container and
the packets' timestamps (PyAV demuxing, no decoding).

decord numbers frames by sorting the packets' pts; to reach frame ``i`` it seeks to the pts of *display*
frame ``k``, where ``k`` is the *decode-order* position of the keyframe before ``i``, then counts the frames
the decoder returns. That is exact when every keyframe is shown at its decode-order position and decoding
from it yields every later frame: closed groups of pictures in an indexed container (mp4, mkv, webm, flv,
AVI without codec delay). It returns other frames, silently, on

* open GOPs (H.264 ``open-gop``, HEVC's default CRA keyframes, MPEG-4 Part 2 and MPEG-1/2 with B-frames:
  the codec of HMDB/UCF-style AVIs): frames decoded after a keyframe are shown before it;
* MPEG-TS and MPEG-PS, which have no index: the seek lands near, not on, the keyframe;
* AVI whose first frame's pts is not the stream's start (codec delay, e.g. H.264 in AVI);
* packets without pts or with duplicate pts.

``read_frames(backend="decord")`` asks :func:`seek_probe` before trusting ``get_batch`` and hands
those files to vai's PyAV decoder, which numbers frames by counting where timestamps cannot be trusted.
torchcodec 0.17, which maps a frame index to a timestamp from the average frame rate, is off on the same
files (MPEG-4 with B-frames in AVI, H.264 open GOPs, MPEG-TS, H.264 in AVI) and goes the same way.
The verdict is cached per path (bounded, per process, and in a dataset's table shared by its DataLoader
workers across epochs: :mod:`vai_data.shared_verdicts`) with the upright picture's size (a phone video's
rotation applied, as decord and torchcodec apply it), which sizes the parts long clips decode in, the stream vai
decodes and whether there are several (decord cannot be told which: such files go to PyAV too), so a
file costs one PyAV open, a demux of at most ``_MAX_PACKETS`` packets and, for MP4/MOV, a walk over its
boxes for the display matrix (about 1 ms for a short clip) in a process, and each later call one dictionary lookup (about 0.1 us). decord itself cannot tell: ``get_key_indices`` gives keyframes' decode-order
positions and ``get_frame_timestamp`` the pts-sorted times, but not a keyframe's pts.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import NamedTuple

from .video_stream import display_steps, pick_video_stream, upright_size, video_streams

logger = logging.getLogger(__name__)

# containers without a frame index: seeking bisects timestamps over the bytes and lands near the target
_UNINDEXED = {"mpegts": "MPEG-TS", "mpeg": "MPEG-PS", "mpegvideo": "raw MPEG video", "vob": "VOB"}
# MPEG-4 Part 2 and MPEG-1/2: with B-frames their GOPs are open unless the encoder closed them
_OPEN_GOP_CODECS = {"mpeg4", "mpeg1video", "mpeg2video"}
# how far to look: the first keyframe and this many more (each with its reordering window), or this many
# packets, whichever comes first (encoders structure every GOP alike)
# the problems the probe reports (format strings; shared_verdicts keeps each one's kind by its prefix)
UNINDEXED_PROBLEM = "{} container: seeks land near, not on, a keyframe"
OPEN_GOP_CODEC_PROBLEM = "{} with B-frames, whose GOPs are open unless the encoder closed them"
NO_PTS_PROBLEM = "packets without timestamps"
DUPLICATE_PTS_PROBLEM = "two packets with pts {}"
SHOWN_AFTER_KEY_PROBLEM = "open GOP: a frame decoded before the keyframe at packet {} is shown after it"
SHOWN_BEFORE_KEY_PROBLEM = "open GOP: packet {}, decoded after a keyframe, is shown before it"
FIRST_PTS_PROBLEM = "the first frame's pts {} is not the stream's start {}"
_KEYFRAMES_CHECKED = 2
_MAX_PACKETS = 1024
_REORDER_WINDOW = 32  # packets after a keyframe among which a leading picture would be (H.264: at most 16)
# verdicts kept per process: a path and a short string each (~200 bytes); past this the oldest go first
MAX_CACHED = 65536


class Verdict(NamedTuple):
    """What :func:`seek_probe` learned of a file."""

    problem: str | None  # why decord's get_batch and torchcodec may return other frames; None: exact
    size: tuple[int, int] | None  # (width, height) of the upright picture (None: unknown)
    stream_index: int | None = None  # the stream vai decodes (vai_data.video_stream.pick_video_stream)
    several_streams: bool = False  # more than one video stream that is not cover art


_UNSEEN = object()
_NOTHING = Verdict(None, None)
_UNJUDGED = Verdict(None, None)  # the probe itself failed (maybe for a moment): never shared, see seek_probe
_verdicts: dict[str, Verdict] = {}
# the SharedVerdicts table of the dataset whose source is reading, in this thread (verdicts_shared_in)
_shared: contextvars.ContextVar = contextvars.ContextVar("vai_data_shared_verdicts", default=None)
_logged = False


@contextlib.contextmanager
def verdicts_shared_in(table) -> Iterator[None]:
    """Within the block (in this thread), look verdicts up in (and add them to) ``table``, a
    :class:`vai_data.shared_verdicts.SharedVerdicts` in shared memory, after this process's own cache: what
    one DataLoader worker probed, the next epoch's workers reuse. ``None``: no change. A dataset's video
    sources read their frames inside this."""
    if table is None:
        yield
        return
    token = _shared.set(table)
    try:
        yield
    finally:
        _shared.reset(token)


def seek_probe(local_path: str) -> Verdict:
    """What one PyAV open per path and process tells of a file (:class:`Verdict`): why decord's ``get_batch``
    (and torchcodec) may return other frames than those asked for on it, or None when seeking is exact there
    (also for a file PyAV cannot read: the decoders then report it); the upright picture's size where that
    problem is None (a phone video's rotation read from its MP4/MOV headers) and the stored one otherwise (None
    where PyAV cannot read it); which video stream vai decodes, and whether there are several."""
    verdict = _verdicts.get(local_path, _UNSEEN)
    if verdict is _UNSEEN:
        shared = _shared.get()
        verdict = shared.get(local_path) if shared is not None else None
        if verdict is None:
            verdict = _probe(local_path)
            if shared is not None and verdict is not _UNJUDGED:  # a failed probe is retried elsewhere
                shared.put(local_path, verdict)
        if len(_verdicts) >= MAX_CACHED:
            try:
                del _verdicts[next(iter(_verdicts))]
            except (KeyError, RuntimeError, StopIteration):  # another thread evicted it first
                pass
        _verdicts[local_path] = verdict
    return verdict


def note_rerouted(path: str, problem: str, backend: str = "decord") -> None:
    """Log, at INFO the first time in a process (later files at DEBUG), a file ``backend`` is not trusted with."""
    global _logged
    if _logged:
        logger.debug("%s: decoded with PyAV instead of %s (%s)", path, backend, problem)
        return
    _logged = True
    logger.info(
        "%s: decoded with PyAV instead of %s, whose seeking returns other frames on it (%s); "
        "further such files are logged at DEBUG",
        path,
        backend,
        problem,
    )


def clear_cache() -> None:
    """Forget every verdict (e.g. after files were re-encoded in place): this process's and those in every
    dataset's shared table (:mod:`vai_data.shared_verdicts`) this process holds, so its workers probe again."""
    from .shared_verdicts import clear_every_table

    _verdicts.clear()
    clear_every_table()


def _probe(local_path: str) -> Verdict:
    import av

    try:
        with av.open(local_path) as container:
            stream = pick_video_stream(container)
            if stream is None:
                return _NOTHING
            index, several = stream.index, len(video_streams(container)) > 1
            cc = stream.codec_context
            if cc is None:
                return Verdict(None, None, index, several)
            size = (int(cc.width), int(cc.height)) if cc.width > 0 and cc.height > 0 else None
            fmt = container.format.name
            if fmt in _UNINDEXED:
                problem = UNINDEXED_PROBLEM.format(_UNINDEXED[fmt])
            elif cc.name in _OPEN_GOP_CODECS and cc.has_b_frames:
                problem = OPEN_GOP_CODEC_PROBLEM.format(cc.name)
            else:
                problem = _timestamp_problem(container, stream)
            if problem is None and size is not None:  # decord and torchcodec rotate phone videos upright
                size = upright_size(*size, display_steps(container, stream, local_path))
            return Verdict(problem, size, index, several)
    except Exception as e:  # unreadable or odd: decord's own errors and fallbacks apply, as before
        logger.debug("cannot probe %s for decord's seeking (%s: %s)", local_path, type(e).__name__, e)
        return _UNJUDGED


def _timestamp_problem(container, stream) -> str | None:
    """Demux (no decoding) up to the ``_KEYFRAMES_CHECKED``-th keyframe after the first and its reordering
    window: every keyframe must be shown after everything decoded before it and before everything decoded
    after it, pts present and distinct, the first frame's pts the stream's start."""
    import av

    seen: set[int] = set()
    first_pts = max_pts = key_pts = None
    keys = n = since_key = 0
    try:
        for packet in container.demux(stream):
            if not packet.size:
                continue
            pts = packet.pts
            if pts is None:
                return NO_PTS_PROBLEM
            if pts in seen:
                return DUPLICATE_PTS_PROBLEM.format(pts)
            seen.add(pts)
            if n <= _REORDER_WINDOW:
                first_pts = pts if first_pts is None else min(first_pts, pts)
            if packet.is_keyframe:
                if max_pts is not None and pts < max_pts:
                    return SHOWN_AFTER_KEY_PROBLEM.format(n)
                key_pts, since_key = pts, 0
                keys += n > 0
            elif key_pts is not None and pts < key_pts:
                return SHOWN_BEFORE_KEY_PROBLEM.format(n)
            max_pts = pts if max_pts is None else max(max_pts, pts)
            n += 1
            since_key += 1
            if (keys >= _KEYFRAMES_CHECKED and since_key > _REORDER_WINDOW) or n >= _MAX_PACKETS:
                break
    except (av.error.FFmpegError, ValueError, OSError):  # a damaged tail: judge what was read
        pass
    start = stream.start_time
    if first_pts is not None and start is not None and first_pts != start:
        return FIRST_PTS_PROBLEM.format(first_pts, start)
    return None
