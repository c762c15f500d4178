"""Exceptions shared across vai_data."""

from __future__ import annotations


class VideoDecodeError(RuntimeError):
    """A video or frame that cannot be read; the message names the path and the cause."""

    def __init__(self, path: str, cause: str):
        self.path = str(path)
        self.cause = cause
        super().__init__(f"cannot decode {self.path}: {cause}")
