"""PyAV backend of ``read_frames``: sparse decoding that feeds the decoder only the packets a wanted frame needs.

TSN-style indices pick a few frames spread over a video. Packets are demuxed in decode order (cheap, no
decoding) and each carries its presentation timestamp, hence its frame index ``round((pts - start) * tb *
fps)``, before it is decoded. A group of pictures (GOP) holding no wanted frame is never decoded: at each
keyframe the packets since the previous one are dropped unless a wanted frame still needs them. Inside a
GOP the packets before a wanted frame are decoded with ``skip_frame="NONREF"`` (FFmpeg then drops the
frames no other frame references, e.g. most B-frames) and the wanted packet with ``"DEFAULT"``. Far gaps
(``SEEK_MIN_FRAMES``) are crossed by seeking to the keyframe before the next wanted frame.

Frame indices from pts need the first frame's pts to be the stream's start time; a file where it is not
(AVI with B-frames) is decoded frame by frame and counted. The frames equal a full sequential decode bit for
bit (for intact streams: where a decoder conceals damage, what it shows depends on what it decoded before). Anything the timestamp arithmetic cannot vouch for
(no pts, non-integral or duplicate frame indices, holes, a damaged packet, a seek landing past its target,
a wanted frame the decoder did not return) falls back to the decoding done before this path existed: every
frame in order from the start, counting them (or, when the first wanted frame is ``SEEK_MIN_FRAMES`` in, from
its keyframe, numbering by pts). Holes are looked for in what is demuxed; across a seek the timestamps are
trusted, as any seek must.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np

from .decode import _check_file, _video_stream, output_size
from .errors import VideoDecodeError

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
    """Timestamps or packets the sparse path cannot vouch for: decode every frame in order instead."""


def _to_rgb(frame, out_size: tuple[int, int], reformatter) -> np.ndarray:
    """``frame.to_ndarray(format="rgb24", width=, height=)`` through one reformatter per read: the same pixels,
    without building a new swscale context for every frame (~0.5 ms each at 640x360 -> 455x256)."""
    return reformatter.reformat(frame, format="rgb24", width=out_size[0], height=out_size[1]).to_ndarray()


class _SeekFailed(Exception):
    """Seeking gave frames without usable timestamps or past the target: decode from the start instead."""


def _sequential_decode(container, stream, path, wanted, last_wanted, short_side, seek_frame, reformatter):
    """Decode every frame up to ``last_wanted`` (after seeking near ``seek_frame`` when it is not 0; frames are
    then numbered by pts, else counted); returns ({index: rgb array}, (last index, last frame) or None)."""
    import av

    got: dict[int, np.ndarray] = {}
    prev = None
    out_size = None
    errors: list[str] = []
    fps, tb = stream.average_rate, stream.time_base
    start_pts = stream.start_time or 0
    if seek_frame:
        container.seek(start_pts + int(seek_frame / fps / tb), stream=stream, backward=True, any_frame=False)
    i = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except (av.error.FFmpegError, ValueError) as e:  # damaged packet: skip it, keep going
            errors.append(f"{type(e).__name__}: {e}")
            if len(errors) > 8:
                break
            continue
        for frame in frames:
            if seek_frame:
                if frame.pts is None:
                    raise _SeekFailed()
                i = int(round(float((frame.pts - start_pts) * tb * fps)))
                if prev is None and i > min(wanted):
                    raise _SeekFailed()
            if out_size is None:
                out_size = output_size(frame.width, frame.height, short_side)
            if i in wanted:
                got[i] = _to_rgb(frame, out_size, reformatter)
            prev = (i, frame)
            i += 1
        if i > last_wanted:
            break
    if prev is None and seek_frame and not errors:
        raise _SeekFailed()  # e.g. MPEG-TS sought past its end: decode from the start instead
    if prev is None and errors:
        raise VideoDecodeError(path, f"PyAV cannot decode any frame ({errors[0]})")
    if prev is not None and prev[0] < last_wanted and prev[0] not in got:
        got[prev[0]] = _to_rgb(prev[1], out_size, reformatter)
    return got, prev


class _SparseDecoder:
    """One sparse pass over a video (see the module docstring); ``run`` returns {index: rgb array}."""

    def __init__(
        self, container, stream, wanted: set[int], short_side: int | None, skip_nonref: bool, reformatter
    ):
        self.container, self.stream, self.cc = container, stream, stream.codec_context
        self.reformatter = reformatter
        self.wanted, self.short_side, self.skip_nonref = wanted, short_side, skip_nonref
        self.scale = Fraction(stream.time_base) * Fraction(stream.average_rate)
        self.start_pts = stream.start_time or 0
        self.unfed = sorted(wanted, reverse=True)  # wanted indices whose packet is not fed yet, smallest last
        self.unfed_set = set(wanted)
        self.got: dict[int, np.ndarray] = {}
        self.in_flight: set[int] = set()  # wanted indices fed but not yet returned by the decoder
        self.out_size: tuple[int, int] | None = None
        self.skip_mode = "DEFAULT"
        self.newest = None  # (index, frame) of the highest-numbered frame the decoder returned
        self.last_seek = -1  # the last frame sought; seeking again for it could loop when it lands far behind
        self.stats = {"fed": 0, "fed_nonref": 0, "frames_out": 0, "seeks": 0, "gops_dropped": 0}

    def index(self, pts) -> int:
        x = (pts - self.start_pts) * self.scale
        i = round(x)
        if abs(x - i) > 0.25:  # not a constant frame rate: pts do not count frames
            raise _Fallback(f"pts {pts} is {float(x):.2f} frames in")
        return i

    def receive(self, frames) -> None:
        for frame in frames:
            self.stats["frames_out"] += 1
            if frame.pts is None:
                raise _Fallback("decoded frame without pts")
            i = self.index(frame.pts)
            if self.newest is None or i > self.newest[0]:
                self.newest = (i, frame)  # the last frame, should wanted indices lie past the real end
            if i in self.in_flight:
                if self.out_size is None:
                    self.out_size = output_size(frame.width, frame.height, self.short_side)
                self.got[i] = _to_rgb(frame, self.out_size, self.reformatter)
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
            if target is not None:
                self.last_seek = target
                ts = self.start_pts + int(Fraction(target) / self.scale)
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
                    raise _Fallback("packet without pts")
                i = self.index(packet.pts)
                if seg_start is None:
                    if not packet.is_keyframe or i > self.unfed[-1]:
                        raise _Fallback(
                            f"demuxing (re)started at frame {i}, not at a keyframe before the target"
                        )
                    seg_start = top = i
                    contiguous = max(i, 0) - 1
                if i in seen:
                    raise _Fallback(f"two packets of frame {i}")
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
                    if target - i >= SEEK_MIN_FRAMES and target > self.last_seek:  # at most one seek a target
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
            raise _Fallback(f"frame indices from pts skip frame {contiguous + 1}")
        # end of file with wanted frames left: past the real end, they clamp to the last frame
        if top is None or self.unfed[-1] <= top or contiguous < top:
            raise _Fallback("wanted frames missing before the end of the file")
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


def _pts_number_frames(container, stream) -> bool:
    """True when the first frame's pts is the stream's start time, so ``(pts - start) * rate`` numbers frames
    as counting them does. Not so in AVI with B-frames: start 0, first frame pts 1 (frames would come out one
    late), so such files are decoded frame by frame and counted. Demuxes a few packets, then rewinds."""
    first = None
    for n, packet in enumerate(container.demux(stream)):
        if packet.size and packet.pts is not None:
            first = packet.pts if first is None else min(first, packet.pts)
        if n >= 32:  # decoders reorder at most 16 frames: the first frame's packet is among these
            break
    container.seek(0)
    return first is None or first <= (stream.start_time or 0)


def _pyav_read(
    path: str,
    indices: np.ndarray,
    short_side: int | None,
    size_hint,
    sparse: bool = True,
    skip_nonref: bool = True,
    stats: dict | None = None,
) -> np.ndarray:
    """PyAV reader of ``read_frames``; ``sparse=False`` decodes every frame from the first wanted one's keyframe
    on (from the start with ``SEEK_MIN_FRAMES`` raised: the reference the tests compare against), and
    ``skip_nonref=False`` keeps the sparse path but decodes non-reference frames too."""
    import av
    from av.video.reformatter import VideoReformatter

    local = _check_file(path)
    reformatter = VideoReformatter()
    wanted = set(int(i) for i in indices)
    last_wanted, first = int(indices.max()), int(indices.min())
    got = None
    try:
        with av.open(local) as container:
            stream = _video_stream(container, path)
            # one decoding thread per call, like decord's num_threads=1: DataLoader workers parallelise;
            # it also makes skip_frame apply to exactly the next packet sent
            stream.codec_context.thread_count = 1
            pts_ok = bool(stream.average_rate and stream.time_base) and _pts_number_frames(container, stream)
            if sparse and pts_ok:
                dec = _SparseDecoder(container, stream, wanted, short_side, skip_nonref, reformatter)
                try:
                    got = dec.run()
                except (_Fallback, av.error.FFmpegError, ValueError) as e:  # e.g. a failed seek
                    # the sequential decode below returns the same frames, or reports the error
                    logger.debug("sparse PyAV decoding of %s gave up (%s); decoding every frame", path, e)
                    got = None
                if stats is not None:
                    stats.update(dec.stats, sparse=got is not None)
                if got is None:
                    stream.codec_context.skip_frame = "DEFAULT"
                    stream.codec_context.flush_buffers()
                    container.seek(0)
            if got is None:  # the decoding read_frames did before the sparse path, unchanged
                can_seek = pts_ok and first >= SEEK_MIN_FRAMES
                try:
                    got, prev = _sequential_decode(
                        container,
                        stream,
                        path,
                        wanted,
                        last_wanted,
                        short_side,
                        first if can_seek else 0,
                        reformatter,
                    )
                except _SeekFailed:
                    container.seek(0)
                    got, prev = _sequential_decode(
                        container, stream, path, wanted, last_wanted, short_side, 0, reformatter
                    )
                if prev is None:
                    raise VideoDecodeError(path, "no frame could be decoded (empty or corrupt video stream)")
    except VideoDecodeError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as e:
        raise VideoDecodeError(path, f"PyAV cannot decode it ({type(e).__name__}: {e})") from None
    avail = np.array(sorted(got))
    # clamp past the real end; a frame the decoder skipped (damaged packet) takes the previous decoded one
    return np.stack(
        [got[int(avail[max(np.searchsorted(avail, int(i), side="right") - 1, 0)])] for i in indices]
    )
