"""Packing splits into the packed frame store (.vpk files, LMDB): ``pack_split``/``pack_split_report`` and
``vai-data pack``, including unreadable rows and bad options."""

import os

import pytest
import torch
from test_storage import SMALL, _numbered_jpegs
from vai_data import SplitRow, VideoClipDataset, pack_split, write_split_file


def test_pack_split_file_store_and_dataset(tmp_path, synth_root):
    split = os.path.join(synth_root, "splits", "val.csv")
    new_split = pack_split(split, synth_root, tmp_path / "packed")
    ds_pack = VideoClipDataset(new_split, tmp_path / "packed", train=False, **SMALL)
    ds_vid = VideoClipDataset(split, synth_root, train=False, **SMALL)
    assert ds_pack.storage == "packed" and len(ds_pack) == len(ds_vid)
    a, b = ds_pack[0], ds_vid[0]
    assert torch.equal(a["frame_indices"], b["frame_indices"]) and a["video_id"] == b["video_id"]
    assert (a["video"] - b["video"]).abs().mean() < 0.15


def test_pack_split_from_frames_lmdb(tmp_path, synth_root):
    pytest.importorskip("lmdb")
    split = os.path.join(synth_root, "splits", "val_frames.csv")
    new_split = pack_split(split, synth_root, tmp_path / "l", store="lmdb")
    root = tmp_path / "l" / "frames.lmdb"
    ds = VideoClipDataset(new_split, root, train=False, **SMALL)
    ref = VideoClipDataset(split, synth_root, train=False, **SMALL)
    assert ds.storage == "lmdb"
    assert torch.equal(ds[0]["video"], ref[0]["video"])  # frames repacked byte-for-byte: identical


def test_pack_cli(tmp_path, synth_root, capsys):
    from vai_data.cli import main

    split = os.path.join(synth_root, "splits", "val.csv")
    assert (
        main(
            [
                "pack",
                "--split",
                split,
                "--data-root",
                synth_root,
                "--out",
                str(tmp_path / "p"),
                "--short-side",
                "16",
            ]
        )
        == 0
    )
    assert "packed split" in capsys.readouterr().out
    ds = VideoClipDataset(tmp_path / "p" / "splits" / "val.csv", tmp_path / "p", train=False, **SMALL)
    assert ds[0]["video"].shape == (3, 4, 16, 16)


def _split_with_bad_rows(tmp_path, synth_root, name):
    """The synthetic frames split plus a row whose folder is missing and one holding a corrupt JPEG."""
    from vai_data import read_split_file
    from vai_data.split_file import SplitRow as Row

    sf = read_split_file(os.path.join(synth_root, "splits", "val_frames.csv"))
    os.makedirs(tmp_path / "bad")
    for i in range(3):
        (tmp_path / "bad" / f"{i:05d}.jpg").write_bytes(b"junk" if i == 1 else _numbered_jpegs(1)[0])
    rows = [
        sf.rows[0],
        Row(os.path.join(tmp_path, "missing", "{:05d}.jpg"), 900, 0, 0, 3),
        Row(str(tmp_path / "bad" / "{:05d}.jpg"), 901, 1, 0, 2),
        sf.rows[1],
    ]
    write_split_file(tmp_path / name, rows, "frames")
    return tmp_path / name, sf.rows[:2]


def test_pack_skips_unreadable_rows_and_lists_only_packed_ones(tmp_path, synth_root, caplog):
    split, good = _split_with_bad_rows(tmp_path, synth_root, "mixed.csv")
    from vai_data.packing import pack_split_report

    report = pack_split_report(split, synth_root, tmp_path / "p", short_side=16)
    assert (report.packed, len(report.skipped)) == (2, 2) and report.frames == 16
    assert report.summary() == "packed 2 videos (16 frames), skipped 2"
    missing, bad = (reason for _, reason in report.skipped)
    assert "missing" in missing and "00000.jpg" in missing
    assert "bad/00001.jpg" in bad and "not a readable JPEG" in bad
    assert caplog.text.count("skipped ") == 2  # one WARNING per skipped row
    ds = VideoClipDataset(report.split_path, tmp_path / "p", train=False, **SMALL)
    assert [r.video_id for r in ds.split.rows] == [r.video_id for r in good]  # bad rows left out
    assert all(ds[i]["video"].shape == (3, 4, 16, 16) for i in range(len(ds)))
    # without resizing, frames are copied: the missing folder is still caught, the corrupt JPEG at training
    assert len(pack_split_report(split, synth_root, tmp_path / "q").skipped) == 1
    only_bad = tmp_path / "only_bad.csv"
    write_split_file(only_bad, [SplitRow("nope/{:05d}.jpg", 1, 0, 0, 1)], "frames")
    with pytest.raises(ValueError, match=r"only_bad\.csv: none of its 1 rows could be packed"):
        pack_split(only_bad, tmp_path, tmp_path / "r")
    assert not (tmp_path / "r" / "splits").exists()


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(quality=0), r"quality must be an integer in 1\.\.100, got 0"),
        (dict(quality=101), r"got 101"),
        (dict(short_side=0), r"short_side must be a positive number of pixels .*got 0"),
        (dict(short_side=-5), r"got -5"),
        (dict(store="zip"), r"store='zip'"),
    ],
)
def test_pack_rejects_bad_options_before_writing(tmp_path, synth_root, kw, match):
    with pytest.raises(ValueError, match=match):
        pack_split(os.path.join(synth_root, "splits", "val.csv"), synth_root, tmp_path / "p", **kw)
    assert not (tmp_path / "p").exists()


def test_pack_cli_errors_are_one_line(tmp_path, synth_root, capsys, caplog):
    """User errors: one ERROR line and exit status 1, no traceback (main returns instead of raising)."""
    from vai_data.cli import main

    def pack(*extra):
        caplog.clear()
        rc = main(["pack", "--data-root", synth_root, "--out", str(tmp_path / "o"), *extra])
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        return rc, errors, capsys.readouterr().out

    rc, errors, _ = pack("--split", str(tmp_path / "nope.csv"))
    assert rc == 1 and len(errors) == 1 and "nope.csv does not exist" in errors[0]
    (tmp_path / "broken.csv").write_text("0\na.mp4 1 3,4 0 9 8 8\n")
    rc, errors, _ = pack("--split", str(tmp_path / "broken.csv"))
    assert rc == 1 and len(errors) == 1 and "broken.csv:2: label '3,4' has several classes" in errors[0]
    for opt, value, match in (
        ("--quality", "0", "--quality must be in 1..100, got 0"),
        ("--short-side", "-5", "--short-side must be a positive number of pixels"),
    ):
        rc, errors, _ = pack("--split", os.path.join(synth_root, "splits", "val.csv"), opt, value)
        assert rc == 1 and len(errors) == 1 and match in errors[0]
    assert not (tmp_path / "o").exists()
    split, _ = _split_with_bad_rows(tmp_path, synth_root, "mixed.csv")
    rc, _, out = pack("--split", str(split), "--short-side", "16")
    assert rc == 1 and "packed 2 videos (16 frames), skipped 2" in out and "packed split:" in out
    assert [r.getMessage()[:8] for r in caplog.records if r.levelname == "WARNING"] == ["skipped "] * 2
