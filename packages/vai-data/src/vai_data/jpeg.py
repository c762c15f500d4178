"""JPEG decoding with the fastest decoder available: simplejpeg (libjpeg-turbo) when installed, else Pillow.

Both paths use the decoder's DCT-domain downscaling by 1/2, 1/4 or 1/8 when a ``short_side`` is at most
half the source, so a 1080p frame wanted at 256 pixels is decoded at 1/4 size. Other libjpeg-turbo
factors (3/8, 5/8, 3/4, 7/8) are not used: they lack fast IDCT paths and were measured slower than a
full decode (e.g. 360p -> 3/4: 1.08 ms vs 0.67 ms per frame).
"""

from __future__ import annotations

import io
import numbers
import struct

import numpy as np

from .arguments import is_int

try:  # optional extra "fastjpeg"
    import simplejpeg as _simplejpeg
except ImportError:  # pragma: no cover - depends on the environment
    _simplejpeg = None

JPEG_BACKEND = "simplejpeg" if _simplejpeg is not None else "pillow"


JPEG_BACKENDS = ("simplejpeg", "pillow")  # the names decode_jpeg's ``backend`` takes


class JpegDecodeError(OSError, ValueError):
    """JPEG bytes that no decoder reads (not a JPEG, or truncated/corrupt); the message says which in one
    line. An ``OSError`` as Pillow's errors were, and a ``ValueError`` (bad data)."""


def undecodable(data, error: Exception) -> JpegDecodeError:
    """One line saying why ``data`` is not a readable JPEG (built only on error: Pillow's messages name an
    in-memory ``BytesIO`` rather than the data)."""
    if type(error).__name__ == "UnidentifiedImageError":
        return JpegDecodeError(
            f"not a readable JPEG: unrecognised image data ({len(data)} bytes starting {bytes(data[:8])!r})"
        )
    cause = (str(error).splitlines() or [""])[0][:200]
    return JpegDecodeError(
        f"not a readable JPEG ({type(error).__name__}: {cause}): truncated or corrupt JPEG data "
        f"({len(data)} bytes)"
    )


def _decode_pillow(data: bytes, short_side: int | None) -> np.ndarray:
    from PIL import Image

    try:
        img = Image.open(io.BytesIO(data))
        dims = dct_scale_dims(*img.size, short_side)
        if dims is not None:
            img.draft("RGB", dims)  # JPEG only: the loader reduces by the same power of two
        return np.array(img.convert("RGB"))
    except (
        OSError,
        SyntaxError,
        ValueError,
        IndexError,
        struct.error,
    ) as e:  # what Pillow raises for bad data
        raise undecodable(data, e) from None


DCT_FACTORS = (8, 4, 2)  # power-of-two DCT-domain reductions, largest first


def dct_scale_dims(width: int, height: int, short_side: int | None) -> tuple[int, int] | None:
    """``(min_width, min_height)`` for decoding at the largest 1/2, 1/4 or 1/8 reduction whose short side
    is still >= ``short_side``; ``None`` when even 1/2 would be too small or ``short_side`` is None or 0
    (decode at full size)."""
    if short_side is None or short_side <= 0:
        return None
    for f in DCT_FACTORS:
        if -(-min(width, height) // f) >= short_side:
            return -(-width // f), -(-height // f)
    return None


def _check_short_side(short_side):
    """``short_side`` for DCT scaling (None: full size, as for 0), or one ``ValueError`` naming it."""
    if short_side is None or type(short_side) is int and short_side > 0:
        return short_side
    if (
        isinstance(short_side, (bool, np.bool_))
        or not (is_int(short_side) or isinstance(short_side, numbers.Real))
        or short_side < 0
    ):
        raise ValueError(
            f"decode_jpeg: short_side={short_side!r} must be a number of pixels >= 0 (None or 0: full size)"
        )
    return short_side if short_side > 0 else None


def decode_jpeg(data: bytes, short_side: int | None = None, backend: str | None = None) -> np.ndarray:
    """Decode JPEG bytes to uint8 ``(H, W, 3)`` RGB; with ``short_side`` the result may be larger than
    requested (DCT scaling goes in powers of two) but never smaller - resize afterwards to the exact size.
    ``short_side`` None or 0 decodes at full size (as ``extract_frames`` keeps the size for 0); ``backend``
    is one of :data:`JPEG_BACKENDS` (None: :data:`JPEG_BACKEND`; simplejpeg falls back to Pillow where it is
    not installed). Data no decoder reads raises :class:`JpegDecodeError` (one line: not a JPEG, or
    truncated/corrupt data); callers that know the file name it (frame folders: ``VideoDecodeError``)."""
    if backend is None:
        backend = JPEG_BACKEND
    elif backend not in JPEG_BACKENDS:
        raise ValueError(
            f"decode_jpeg: unknown backend {backend!r}; choose one of {list(JPEG_BACKENDS)} or None"
        )
    short_side = _check_short_side(short_side)
    if backend == "simplejpeg" and _simplejpeg is not None:
        try:
            if short_side is not None:
                h, w, _, _ = _simplejpeg.decode_jpeg_header(data)
                dims = dct_scale_dims(w, h, short_side)
                if dims is not None:
                    return _simplejpeg.decode_jpeg(
                        data, colorspace="RGB", min_width=dims[0], min_height=dims[1]
                    )
            return _simplejpeg.decode_jpeg(data, colorspace="RGB")
        except ValueError:
            pass  # not a baseline JPEG simplejpeg understands (e.g. PNG in a frame folder): let Pillow try
    return _decode_pillow(data, short_side)


JPEG_QUALITY_RANGE = (1, 100)  # what both encoders accept (simplejpeg refuses 101 and negative values)


def check_jpeg_quality(quality: int) -> None:
    """Raise ``ValueError`` naming ``quality`` unless it is an integer in 1..100 (libjpeg takes 0 as 1)."""
    if type(quality) is int and 1 <= quality <= 100:  # (once per encoded frame: the common case first)
        return
    low, high = JPEG_QUALITY_RANGE
    if isinstance(quality, bool) or not isinstance(quality, numbers.Integral) or not low <= quality <= high:
        raise ValueError(f"JPEG quality must be an integer in {low}..{high}, got {quality!r}")


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """Encode uint8 ``(H, W, 3)`` RGB as JPEG (simplejpeg when installed, else Pillow); ``quality`` in
    1..100. Another dtype or shape (a float image, a ``(C, H, W)`` tensor layout) or quality raises one
    ``ValueError`` naming it."""
    check_jpeg_quality(quality)
    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        hint = ""
        if image.ndim == 3 and image.shape[0] == 3 and image.shape[2] != 3:
            hint = " (channels first: use image.transpose(1, 2, 0))"
        elif image.dtype != np.uint8:
            hint = " (convert, e.g. np.clip(image * 255, 0, 255).astype(np.uint8) for floats in [0, 1])"
        raise ValueError(
            f"encode_jpeg: image must be a uint8 (H, W, 3) RGB array, got {image.dtype} of shape "
            f"{tuple(image.shape)}{hint}"
        )
    if _simplejpeg is not None:
        return _simplejpeg.encode_jpeg(image, quality=quality, colorspace="RGB", colorsubsampling="420")
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
