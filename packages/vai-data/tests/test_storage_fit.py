"""A forced packed/lmdb storage that cannot read the split's rows is one line when the dataset is built,
not a warning per sample and a run of substitutes that fail too."""

from __future__ import annotations

import pytest
from vai_data.datasets.storage import check_storage_fits
from vai_data.split_file import SplitFile, SplitRow


def _split(path) -> SplitFile:
    return SplitFile(0, "gulp", [SplitRow(path, 0, 1, 0, 7)], "splits/train.csv")


def test_packed_storage_on_lmdb_keys_points_at_the_lmdb(tmp_path) -> None:
    (tmp_path / "frames.lmdb").mkdir()
    (tmp_path / "frames.lmdb" / "data.mdb").write_bytes(b"")
    with pytest.raises(ValueError) as err:
        check_storage_fits("packed", _split("100218"), str(tmp_path))
    assert str(err.value) == (
        "storage 'packed' reads .vpk files, but the rows of splits/train.csv name '100218': an LMDB is"
        " there: use storage 'lmdb' (or 'auto')"
    )
    with pytest.raises(ValueError, match="name '100218': use the storage they were written for"):
        check_storage_fits("packed", _split("100218"), str(tmp_path / "elsewhere"))


def test_rows_with_pathlib_paths_are_read_as_their_strings() -> None:
    from pathlib import Path

    with pytest.raises(ValueError, match=r"name '100218': use the storage"):
        check_storage_fits("packed", _split(Path("100218")), None)
    check_storage_fits("packed", _split(Path("a.vpk")), None)


def test_lmdb_storage_on_vpk_rows_says_packed() -> None:
    with pytest.raises(
        ValueError, match=r"name \.vpk files \('a\.vpk'\): use storage 'packed' \(or 'auto'\)"
    ):
        check_storage_fits("lmdb", _split("a.vpk"), None)


@pytest.mark.parametrize(
    ("storage", "path"),
    [("packed", "a.vpk"), ("lmdb", "100218"), ("gulp", "100218"), ("frames", "a/{:05d}.jpg")],
)
def test_fitting_storages_pass(storage, path) -> None:
    check_storage_fits(storage, _split(path), None)
    check_storage_fits(storage, SplitFile(0, "gulp", [], None), None)  # nothing to read: nothing to say


def test_a_dataset_with_the_wrong_packed_storage_fails_when_built(tmp_path, synth_root) -> None:
    """What a dataset config with $VAI_<NAME>_STORAGE=packed did on an LMDB pack: one line at once (it
    warned per sample and ended the run with 'substitute samples failed too')."""
    import os

    from vai_data import VideoClipDataset, pack_split

    pytest.importorskip("lmdb")
    split = pack_split(
        os.path.join(synth_root, "splits", "val_frames.csv"), synth_root, tmp_path, store="lmdb"
    )
    with pytest.raises(
        ValueError, match=r"^storage 'packed' reads \.vpk files, .*an LMDB is there: use storage 'lmdb'"
    ):
        VideoClipDataset(split, tmp_path, train=False, num_frames=2, crop_size=16, storage="packed")
    ds = VideoClipDataset(
        split, tmp_path / "frames.lmdb", train=False, num_frames=2, crop_size=16, storage="lmdb"
    )
    assert ds[0]["video"].shape[1] == 2
