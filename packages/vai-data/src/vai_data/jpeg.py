"""JPEG decoding with the fastest decoder available: simplejpeg (libjpeg-turbo) when installed, else Pillow.

Both paths use the decoder's DCT-domain downscaling when a ``short_side`` is requested, so a 1080p
frame that is wanted at 256 pixels is never fully decoded.
"""

from __future__ import annotations

import io

import numpy as np

try:  # optional extra "fastjpeg"
    import simplejpeg as _simplejpeg
except ImportError:  # pragma: no cover - depends on the environment
    _simplejpeg = None

JPEG_BACKEND = "simplejpeg" if _simplejpeg is not None else "pillow"


def _decode_pillow(data: bytes, short_side: int | None) -> np.ndarray:
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    if short_side is not None:
        w, h = img.size
        scale = short_side / min(w, h)
        if scale < 1:
            img.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
    return np.array(img.convert("RGB"))


def decode_jpeg(data: bytes, short_side: int | None = None, backend: str | None = None) -> np.ndarray:
    """Decode JPEG bytes to uint8 ``(H, W, 3)`` RGB; with ``short_side`` the result may be larger than
    requested (DCT scaling goes in powers of two) but never smaller - resize afterwards to the exact size."""
    backend = backend or JPEG_BACKEND
    if backend == "simplejpeg" and _simplejpeg is not None:
        try:
            if short_side is not None:
                h, w, _, _ = _simplejpeg.decode_jpeg_header(data)
                scale = short_side / min(w, h)
                if scale < 1:
                    return _simplejpeg.decode_jpeg(
                        data,
                        colorspace="RGB",
                        min_width=int(np.ceil(w * scale)),
                        min_height=int(np.ceil(h * scale)),
                    )
            return _simplejpeg.decode_jpeg(data, colorspace="RGB")
        except ValueError:
            pass  # not a baseline JPEG simplejpeg understands (e.g. PNG in a frame folder): let Pillow try
    return _decode_pillow(data, short_side)


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """Encode uint8 ``(H, W, 3)`` RGB as JPEG (simplejpeg when installed, else Pillow)."""
    image = np.ascontiguousarray(image)
    if _simplejpeg is not None:
        return _simplejpeg.encode_jpeg(image, quality=quality, colorspace="RGB", colorsubsampling="420")
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
