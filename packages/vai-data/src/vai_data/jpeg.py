"""JPEG decoding with the fastest decoder available: simplejpeg (libjpeg-turbo) when installed, else Pillow.

Both paths use the decoder's DCT-domain downscaling by 1/2, 1/4 or 1/8 when a ``short_side`` is at most
half the source, so a 1080p frame wanted at 256 pixels is decoded at 1/4 size. Other libjpeg-turbo
factors (3/8, 5/8, 3/4, 7/8) are not used: they lack fast IDCT paths and were measured slower than a
full decode (e.g. 360p -> 3/4: 1.08 ms vs 0.67 ms per frame).
"""

from __future__ import annotations

import io
import numbers

import numpy as np

try:  # optional extra "fastjpeg"
    import simplejpeg as _simplejpeg
except ImportError:  # pragma: no cover - depends on the environment
    _simplejpeg = None

JPEG_BACKEND = "simplejpeg" if _simplejpeg is not None else "pillow"


def _decode_pillow(data: bytes, short_side: int | None) -> np.ndarray:
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    dims = dct_scale_dims(*img.size, short_side)
    if dims is not None:
        img.draft("RGB", dims)  # JPEG only: the loader reduces by the same power of two
    return np.array(img.convert("RGB"))


DCT_FACTORS = (8, 4, 2)  # power-of-two DCT-domain reductions, largest first


def dct_scale_dims(width: int, height: int, short_side: int | None) -> tuple[int, int] | None:
    """``(min_width, min_height)`` for decoding at the largest 1/2, 1/4 or 1/8 reduction whose short side
    is still >= ``short_side``; ``None`` when even 1/2 would be too small (decode at full size)."""
    if short_side is None:
        return None
    for f in DCT_FACTORS:
        if -(-min(width, height) // f) >= short_side:
            return -(-width // f), -(-height // f)
    return None


def decode_jpeg(data: bytes, short_side: int | None = None, backend: str | None = None) -> np.ndarray:
    """Decode JPEG bytes to uint8 ``(H, W, 3)`` RGB; with ``short_side`` the result may be larger than
    requested (DCT scaling goes in powers of two) but never smaller - resize afterwards to the exact size."""
    backend = backend or JPEG_BACKEND
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
    """Raise ``ValueError`` naming ``quality`` unless it is an integer in 1..100."""
    low, high = JPEG_QUALITY_RANGE
    if isinstance(quality, bool) or not isinstance(quality, numbers.Integral) or not low <= quality <= high:
        raise ValueError(f"JPEG quality must be an integer in {low}..{high}, got {quality!r}")


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """Encode uint8 ``(H, W, 3)`` RGB as JPEG (simplejpeg when installed, else Pillow)."""
    image = np.ascontiguousarray(image)
    if _simplejpeg is not None:
        return _simplejpeg.encode_jpeg(image, quality=quality, colorspace="RGB", colorsubsampling="420")
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
