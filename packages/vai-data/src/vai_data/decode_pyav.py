"""PyAV backend of ``read_frames``: sparse decoding that feeds the decoder only the packets a wanted frame needs.

TSN-style indices pick a few frames spread over a video. Packets are demuxed in decode order (cheap, no
decoding) and each carries its presentation timestamp, hence its frame index ``round((pts - start) * tb *
fps)``, before it is decoded. A group of pictures (GOP) holding no wanted frame is never decoded: at each
keyframe the packets since the previous one are dropped unless a wanted frame still needs them. Inside a
GOP the packets before a wanted frame are decoded with ``skip_frame="NONREF"`` (FFmpeg then drops the
frames no other frame references, e.g. most B-frames) and the wanted packet with ``"DEFAULT"``. Far gaps
(``SEEK_MIN_FRAMES``) are crossed by seeking to the keyframe before the next wanted frame.

Frame indices from pts need a constant frame rate and the first frame's pts to be the stream's start time.
A file where they are not is decoded frame by frame from the start and counted, never sought in: AVI with
B-frames (first pts 1, start 0), and a variable frame rate, seen in the container's frame count and duration
against its nominal rate (mp4, mov, AVI: the whole file) or in the first packets' timestamps (any container).
The frames equal a full sequential decode bit for bit (for intact streams: where a decoder conceals damage,
what it shows depends on what it decoded before). Anything the timestamp arithmetic cannot vouch for on the
way (no pts, non-integral or duplicate frame indices, holes, a damaged packet, a seek landing past its
target, a wanted frame the decoder did not return) falls back to every frame in order from the start,
counted. Only where the timestamps were not the problem (a damaged packet, a frame the decoder did not
return), and the first wanted frame is ``SEEK_MIN_FRAMES`` in, does the fallback start at that frame's
keyframe, numbering by pts, and it too restarts from the start, counting, at the first non-integral index
or hole. Holes are looked for in what is demuxed; across a seek the timestamps are trusted, as any seek
must. No seek goes past the stream's end: indices beyond it (over-reported frame counts, absurd indices)
are reached by demuxing on to the end, where they clamp to the last frame.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np

from .decode import _check_file, _video_stream
from .errors import VideoDecodeError
from .video_stream import FrameConverter

logger = logging.getLogger(__name__)

# Seek (to the keyframe before it) when the next wanted frame lies this many frames past the demux position;
# nearer frames are reached by demuxing on (~4 us a packet, against ~350 us to decode a 640x360 frame), so
# seeking only saves demuxing and can land behind the position, re-demuxing up to a GOP.
SEEK_MIN_FRAMES = 48
# After the last wanted packet, demux at most this many more to see every frame before it (H.264 reorders at
# most 16 frames); a frame index still missing is a gap in the timestamps: indices from pts would then differ
# from counting frames, so decode sequentially.
_REORDER_SLACK = 16


class _Fallback(Exception):
    """Timestamps or packets the sparse path cannot vouch for: decode every frame in order instead.
    ``pts_untrusted``: the timestamps do not count frames, so the fallback must not seek either."""

    def __init__(self, reason: str, pts_untrusted: bool = False):
        super().__init__(reason)
        self.pts_untrusted = pts_untrusted


class _SeekFailed(Exception):
    """Seeking gave frames without usable timestamps or past the target: decode from the start instead."""


_MAX_SEEK_PTS = 2**62  # seek targets beyond this (an absurd index) would overflow FFmpeg's int64


def _seek_pts(stream, frame: int) -> int | None:
    """The pts to seek to for ``frame`` (the stream's start plus ``frame`` frame durations); None when it lies
    past the stream's end (an index past the real end: decoding on to the end clamps it) or cannot be a
    pts at all, so that no seek is made."""
    start = stream.start_time or 0
    pts = start + int(Fraction(frame) / (Fraction(stream.time_base) * Fraction(stream.average_rate)))
    if stream.duration and pts > start + stream.duration:
        return None
    return pts if pts < _MAX_SEEK_PTS else None


def _walk_frames(container, stream, seek_frame: int, first_wanted: int, errors: list[str]):
    """``(index, frame)`` of every frame decoded in order: from the keyframe before ``seek_frame`` when it is
    not 0, numbered by pts (``_SeekFailed`` where they do not count frames or the seek landed past
    ``first_wanted``), else from the start, counted. A damaged packet is skipped and its error appended to
    ``errors``; after 8 the walk ends."""
    import av

    scale = Fraction(stream.time_base) * Fraction(stream.average_rate) if seek_frame else None
    start_pts = stream.start_time or 0
    if seek_frame:
        ts = _seek_pts(stream, seek_frame)
        if ts is None:
            raise _SeekFailed()
        container.seek(ts, stream=stream, backward=True, any_frame=False)
    i = 0
    top = -1  # after a seek: the highest frame index returned so far
    errors_at_top = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except (av.error.FFmpegError, ValueError) as e:  # damaged packet: skip it, keep going
            errors.append(f"{type(e).__name__}: {e}")
            if len(errors) > 8:
                return
            continue
        for frame in frames:
            if seek_frame:
                if frame.pts is None:
                    raise _SeekFailed()
                x = (frame.pts - start_pts) * scale
                i = round(x)
                if abs(x - i) > 0.25 or (top < 0 and i > first_wanted):
                    raise _SeekFailed()  # not a constant frame rate, or landed past the target
                if top >= 0 and i > top + 1 and len(errors) == errors_at_top:
                    raise _SeekFailed()  # a hole in the timestamps (not a damaged packet): pts do not count
                if i > top:
                    top, errors_at_top = i, len(errors)
            yield i, frame
            i += 1


def _sequential_decode(container, stream, path, wanted, last_wanted, seek_frame, convert: FrameConverter):
    """Decode every frame up to ``last_wanted`` (after seeking near ``seek_frame`` when it is not 0; frames are
    then numbered by pts, else counted); returns ({index: rgb array}, (last index, last frame) or None)."""
    got: dict[int, np.ndarray] = {}
    prev = None
    errors: list[str] = []
    for i, frame in _walk_frames(container, stream, seek_frame, min(wanted), errors):
        if i in wanted and i not in got:
            got[i] = convert(frame)
        prev = (i, frame)
        if i >= last_wanted:
            break
    if seek_frame and not errors and (prev is None or not got and prev[0] >= last_wanted):
        raise _SeekFailed()  # e.g. MPEG-TS sought past its end: decode from the start instead
    if prev is None and errors:
        raise VideoDecodeError(path, f"PyAV cannot decode any frame ({errors[0]})")
    if prev is not None and prev[0] < last_wanted and prev[0] not in got:
        got[prev[0]] = convert(prev[1])
    return got, prev


def pts_count_frames(container, stream) -> bool:
    """Whether ``(pts - start) * rate`` numbers this stream's frames (a constant frame rate, the first frame
    at the stream's start): only then are frames reached by seeking; otherwise they are counted from the
    start. Demuxes a few packets, then rewinds."""
    return (
        bool(stream.average_rate and stream.time_base)
        and _constant_rate(stream)
        and _pts_number_frames(container, stream)
    )


class _SparseDecoder:
    """One sparse pass over a video (see the module docstring); ``run`` returns {index: rgb array}."""

    def __init__(self, container, stream, wanted: set[int], skip_nonref: bool, convert: FrameConverter):
        self.container, self.stream, self.cc = container, stream, stream.codec_context
        self.convert = convert
        self.wanted, self.skip_nonref = wanted, skip_nonref
        self.scale = Fraction(stream.time_base) * Fraction(stream.average_rate)
        self.start_pts = stream.start_time or 0
        self.unfed = sorted(wanted, reverse=True)  # wanted indices whose packet is not fed yet, smallest last
        self.unfed_set = set(wanted)
        self.got: dict[int, np.ndarray] = {}
        self.in_flight: set[int] = set()  # wanted indices fed but not yet returned by the decoder
        self.skip_mode = "DEFAULT"
        self.newest = None  # (index, frame) of the highest-numbered frame the decoder returned
        self.last_seek = -1  # the last frame sought; seeking again for it could loop when it lands far behind
        self.stats = {"fed": 0, "fed_nonref": 0, "frames_out": 0, "seeks": 0, "gops_dropped": 0}

    def index(self, pts) -> int:
        x = (pts - self.start_pts) * self.scale
        i = round(x)
        if abs(x - i) > 0.25:  # not a constant frame rate: pts do not count frames
            raise _Fallback(f"pts {pts} is {float(x):.2f} frames in", pts_untrusted=True)
        return i

    def receive(self, frames) -> None:
        for frame in frames:
            self.stats["frames_out"] += 1
            if frame.pts is None:
                raise _Fallback("decoded frame without pts", pts_untrusted=True)
            i = self.index(frame.pts)
            if self.newest is None or i > self.newest[0]:
                self.newest = (i, frame)  # the last frame, should wanted indices lie past the real end
            if i in self.in_flight:
                self.got[i] = self.convert(frame)
                self.in_flight.discard(i)

    def feed(self, packet, want: bool) -> None:
        import av

        mode = "DEFAULT" if want or not self.skip_nonref else "NONREF"
        if mode != self.skip_mode:
            self.cc.skip_frame = self.skip_mode = mode
        self.stats["fed"] += 1
        self.stats["fed_nonref"] += mode == "NONREF"
        try:
            frames = self.cc.decode(packet)
        except (av.error.FFmpegError, ValueError) as e:
            raise _Fallback(f"damaged packet ({type(e).__name__})") from None
        self.receive(frames)

    def drain(self) -> None:
        """Return every frame the decoder still holds, then reset it for a new start (keyframe or seek)."""
        if self.in_flight:
            self.receive(self.cc.decode(None))
        self.cc.flush_buffers()

    def run(self) -> dict[int, np.ndarray]:
        target = self.unfed[-1] if self.unfed[-1] >= SEEK_MIN_FRAMES else None
        while True:
            ts = None if target is None else _seek_pts(self.stream, target)
            if ts is not None:  # (a target past the stream's end is reached by demuxing on to the end)
                self.last_seek = target
                self.container.seek(ts, stream=self.stream, backward=True, any_frame=False)
                self.stats["seeks"] += 1
            target = self._segment()
            if target is None:
                break
        self.drain()
        if self.in_flight:
            raise _Fallback(f"the decoder returned no frame {min(self.in_flight)}")
        return self.got

    def _segment(self) -> int | None:
        """Demux from the current file position; returns the frame to seek to next, or None when done."""
        import av

        pending: list = []  # packets since the decoder's last keyframe, not fed to it yet
        seen: set[int] = set()
        seg_start = top = None
        contiguous = -1  # every frame index from the segment's start up to this one has been demuxed
        fed_max = -1  # the largest wanted index fed in this segment: indices up to it must have no holes
        finishing = 0  # packets demuxed after the last wanted one, to see the frames reordered after it
        try:
            for packet in self.container.demux(self.stream):
                if packet.size == 0:
                    continue
                if packet.pts is None:
                    raise _Fallback("packet without pts", pts_untrusted=True)
                i = self.index(packet.pts)
                if seg_start is None:
                    if not packet.is_keyframe or i > self.unfed[-1]:
                        raise _Fallback(
                            f"demuxing (re)started at frame {i}, not at a keyframe before the target",
                            pts_untrusted=True,
                        )
                    seg_start = top = i
                    contiguous = max(i, 0) - 1
                if i in seen:
                    raise _Fallback(f"two packets of frame {i}", pts_untrusted=True)
                seen.add(i)
                top = max(top, i)
                while contiguous + 1 in seen:
                    contiguous += 1
                if finishing:
                    if contiguous >= fed_max:
                        return None
                    finishing += 1
                    if finishing > _REORDER_SLACK:
                        break
                    continue
                if packet.is_keyframe and self.unfed[-1] >= i:
                    # no wanted frame before this keyframe is left to feed: the packets since the previous
                    # keyframe are not needed; the decoder returns what it holds and restarts here
                    self.drain()
                    self.stats["gops_dropped"] += bool(pending)
                    pending = []
                    if contiguous < fed_max:  # frames before a keyframe come before it in decode order
                        break
                    target = self.unfed[-1]
                    if (
                        target - i >= SEEK_MIN_FRAMES
                        and target > self.last_seek  # at most one seek a target
                        and _seek_pts(self.stream, target) is not None
                    ):
                        return target
                if i in self.unfed_set:
                    for p in pending:
                        self.feed(p, False)
                    pending = []
                    self.unfed.remove(i)
                    self.unfed_set.discard(i)
                    self.in_flight.add(i)
                    fed_max = max(fed_max, i)
                    self.feed(packet, True)
                    if not self.unfed:
                        if contiguous >= fed_max:
                            return None
                        finishing = 1
                else:
                    pending.append(packet)
        except av.error.FFmpegError as e:  # a demuxing error: the sequential path reports or skips it
            raise _Fallback(f"demuxing failed ({type(e).__name__})") from None
        if finishing or contiguous < fed_max:
            raise _Fallback(f"frame indices from pts skip frame {contiguous + 1}", pts_untrusted=True)
        # end of file with wanted frames left: past the real end, they clamp to the last frame
        if top is None or self.unfed[-1] <= top or contiguous < top:
            raise _Fallback("wanted frames missing before the end of the file", pts_untrusted=True)
        self.unfed, self.unfed_set = [], set()
        if top not in self.got and top not in self.in_flight:
            if self.newest is not None and self.newest[0] == top:  # decoded as a reference, not converted
                self.in_flight.add(top)
                self.receive([self.newest[1]])
                self.stats["frames_out"] -= 1
                return None
            if not any(self.index(p.pts) == top for p in pending):
                raise _Fallback("the last frame was fed as a skippable one")
            self.in_flight.add(top)
            for p in pending:
                self.feed(p, self.index(p.pts) == top)
        return None


def _constant_rate(stream) -> bool:
    """False when the container's own numbers say the frame rate varies: its frame count and duration
    disagree with its nominal rate by more than a frame (the last frame's duration may differ). Covers the
    whole file where the container counts frames (mp4, mov, AVI); elsewhere :func:`_pts_number_frames` and
    the sparse path's checks look at the timestamps themselves."""
    rate = stream.base_rate or stream.average_rate
    if not (stream.frames and stream.duration and rate and stream.time_base):
        return True
    return abs(float(stream.duration * stream.time_base * rate) - stream.frames) <= 1.5


def _pts_number_frames(container, stream) -> bool:
    """True when ``(pts - start) * rate`` numbers the first frames as counting them does: the first frame's pts
    is the stream's start time (not so in AVI with B-frames: start 0, first frame pts 1, frames would come
    out one late) and every pts lands on a whole frame, once (not so at a variable frame rate). Files where
    it is False are decoded frame by frame and counted. Demuxes a few packets, then rewinds."""
    start = stream.start_time or 0
    scale = Fraction(stream.time_base) * Fraction(stream.average_rate)
    first = None
    seen: set[int] = set()
    for n, packet in enumerate(container.demux(stream)):
        if packet.size and packet.pts is not None:
            first = packet.pts if first is None else min(first, packet.pts)
            x = (packet.pts - start) * scale
            i = round(x)
            if abs(x - i) > 0.25 or i in seen:
                container.seek(0)
                return False
            seen.add(i)
        if n >= 32:  # decoders reorder at most 16 frames: the first frame's packet is among these
            break
    container.seek(0)
    return first is None or first <= start


def _pyav_read(
    path: str,
    indices: np.ndarray,
    short_side: int | None,
    *,
    exact: bool = True,
    sparse: bool = True,
    skip_nonref: bool = True,
    stats: dict | None = None,
    local: str | None = None,
) -> np.ndarray:
    """PyAV reader of ``read_frames`` (``exact`` as there); ``sparse=False`` decodes every frame from the first
    wanted one's keyframe on (from the start with ``SEEK_MIN_FRAMES`` raised: the reference the tests compare against), and
    ``skip_nonref=False`` keeps the sparse path but decodes non-reference frames too. ``local``: the local
    file when the caller (another backend handing a file over) has checked ``path`` already."""
    import av

    local = local or _check_file(path)
    convert = FrameConverter(short_side, exact)
    wanted = set(int(i) for i in indices)
    last_wanted, first = int(indices.max()), int(indices.min())
    got = None
    try:
        with av.open(local) as container:
            stream = _video_stream(container, path)
            # one decoding thread per call, like decord's num_threads=1: DataLoader workers parallelise;
            # it also makes skip_frame apply to exactly the next packet sent
            stream.codec_context.thread_count = 1
            # frames are numbered from timestamps (sparse decoding, seeking) only at a constant frame rate;
            # otherwise every frame is decoded from the start and counted
            pts_ok = pts_count_frames(container, stream)
            if stats is not None:
                stats["sparse"] = False
            if sparse and pts_ok:
                dec = _SparseDecoder(container, stream, wanted, skip_nonref, convert)
                try:
                    got = dec.run()
                except (
                    _Fallback,
                    av.error.FFmpegError,
                    ValueError,
                    OverflowError,
                ) as e:  # e.g. a failed seek
                    # the sequential decode below returns the same frames, or reports the error
                    logger.debug("sparse PyAV decoding of %s gave up (%s); decoding every frame", path, e)
                    got = None
                    if getattr(e, "pts_untrusted", False):
                        pts_ok = False  # timestamps do not count frames: no seeking, count from the start
                if stats is not None:
                    stats.update(dec.stats, sparse=got is not None)
                if got is None:
                    stream.codec_context.skip_frame = "DEFAULT"
                    stream.codec_context.flush_buffers()
                    container.seek(0)
            if got is None:  # every frame in order; from the first wanted frame's keyframe where pts count
                can_seek = pts_ok and first >= SEEK_MIN_FRAMES and _seek_pts(stream, first) is not None
                try:
                    got, prev = _sequential_decode(
                        container,
                        stream,
                        path,
                        wanted,
                        last_wanted,
                        first if can_seek else 0,
                        convert,
                    )
                except _SeekFailed:
                    container.seek(0)
                    got, prev = _sequential_decode(container, stream, path, wanted, last_wanted, 0, convert)
                if prev is None:
                    raise VideoDecodeError(path, "no frame could be decoded (empty or corrupt video stream)")
    except VideoDecodeError:
        raise
    except (av.error.FFmpegError, ValueError, OSError, OverflowError) as e:
        raise VideoDecodeError(path, f"PyAV cannot decode it ({type(e).__name__}: {e})") from None
    if not got:
        raise VideoDecodeError(path, "PyAV decoded no wanted frame (corrupt video stream)")
    avail = np.array(sorted(got))
    # clamp past the real end; a frame the decoder skipped (damaged packet) takes the previous decoded one
    return np.stack(
        [got[int(avail[max(np.searchsorted(avail, int(i), side="right") - 1, 0)])] for i in indices]
    )
