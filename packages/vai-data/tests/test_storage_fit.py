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


def test_keyed_rows_read_from_the_folder_above_an_lmdb_name_the_lmdb(tmp_path) -> None:
    """data_root=<out> instead of <out>/frames.lmdb: auto picked gulp and every sample failed with 'no
    meta_*.gmeta files'; now one line when the dataset is built (data_root is never changed silently)."""
    from vai_data.datasets.storage import detect_storage

    (tmp_path / "frames.lmdb").mkdir()
    (tmp_path / "frames.lmdb" / "data.mdb").write_bytes(b"")
    split = _split("100218")
    assert detect_storage(split, str(tmp_path)) == "gulp"
    for storage in ("gulp", "lmdb"):
        with pytest.raises(ValueError) as err:
            check_storage_fits(storage, split, str(tmp_path))
        assert str(err.value) == (
            f"{tmp_path} holds an LMDB in frames.lmdb: pass data_root={tmp_path / 'frames.lmdb'}"
        )
    check_storage_fits("lmdb", split, str(tmp_path / "frames.lmdb"))  # the LMDB itself
    (tmp_path / "meta_0.gmeta").write_text("{}")  # a gulp directory that also holds an LMDB: read as gulp
    check_storage_fits("gulp", split, str(tmp_path))


@pytest.mark.skipif(__import__("importlib").util.find_spec("lmdb") is None, reason="lmdb is not installed")
def test_a_dataset_on_the_lmdb_pack_folder_fails_when_built(tmp_path, synth_root) -> None:
    import os

    from vai_data import VideoClipDataset, pack_split

    split = pack_split(
        os.path.join(synth_root, "splits", "val_frames.csv"), synth_root, tmp_path, store="lmdb"
    )
    with pytest.raises(ValueError, match=r"holds an LMDB in frames\.lmdb: pass data_root=.*frames\.lmdb$"):
        VideoClipDataset(split, tmp_path, train=False, num_frames=2, crop_size=16, test_scale=16)
    ds = VideoClipDataset(
        split, tmp_path / "frames.lmdb", train=False, num_frames=2, crop_size=16, test_scale=16
    )
    assert ds.storage == "lmdb" and ds[0]["video"].shape[1] == 2
