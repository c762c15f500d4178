"""``atomic_open``: the new file appears whole, or the old one stays, and no temporary file is left."""

from __future__ import annotations

from pathlib import Path

import pytest
from vai_train.atomic import atomic_open


def test_replaces_whole_and_creates_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b.txt"
    with atomic_open(path) as f:
        f.write("one")
        assert not path.exists()  # nothing visible until the block ends
    with atomic_open(path, "wb") as f:
        f.write(b"two")
    assert path.read_text() == "two" and [p.name for p in path.parent.iterdir()] == ["b.txt"]


def test_an_error_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "b.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="half-way"), atomic_open(path) as f:
        f.write("new, half")
        raise RuntimeError("half-way")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["b.txt"]
