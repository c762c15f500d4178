"""Packing splits into the packed frame store (.vpk files, LMDB): ``pack_split``/``pack_split_report`` and
``vai-data pack``, including unreadable rows and bad options."""

import os

import numpy as np
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


def test_packing_into_an_lmdb_read_earlier_in_the_process(tmp_path, synth_root):
    """py-lmdb opens a store once per process: packing into a store this process has read must close the
    cached read-only environment first (it raised lmdb.Error), and reading afterwards sees the new keys."""
    pytest.importorskip("lmdb")
    val = os.path.join(synth_root, "splits", "val_frames.csv")
    train = os.path.join(synth_root, "splits", "train_frames.csv")
    root = tmp_path / "l" / "frames.lmdb"
    first = VideoClipDataset(
        pack_split(val, synth_root, tmp_path / "l", store="lmdb"), root, train=False, **SMALL
    )
    first[0]  # opens (and caches) the read-only environment
    second = pack_split(train, synth_root, tmp_path / "l", store="lmdb")
    ds = VideoClipDataset(second, root, train=False, **SMALL)
    ref = VideoClipDataset(train, synth_root, train=False, **SMALL)
    assert torch.equal(ds[0]["video"], ref[0]["video"])
    assert torch.equal(first[1]["video"], VideoClipDataset(val, synth_root, train=False, **SMALL)[1]["video"])


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


STEP = 12  # red level per frame number in the numbered test videos


def _numbered_video(path, n: int) -> None:
    """An H.264 video whose frame i is flat red level ``STEP * i`` (the frame number survives encoding)."""
    from vai_data.synth import write_mp4

    frames = np.zeros((n, 24, 32, 3), np.uint8)
    frames[..., 0] = (STEP * np.arange(n, dtype=np.uint8))[:, None, None]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_mp4(str(path), frames)


def _stored_numbers(root, key: str, store: str) -> list[int]:
    """The frame numbers (red levels) of every frame a store holds under ``key``."""
    from vai_data.packed import open_packed_source

    if store == "lmdb":
        src = open_packed_source(os.path.join(root, "frames.lmdb"), key, 0, None, "lmdb")
    else:
        src = open_packed_source(str(root), key, 0, None, "packed")
    frames = src.read(list(range(src.num_frames)))
    return [int(round(float(f[..., 0].float().mean()) / STEP)) for f in frames]


def _video_split(path, rows) -> str:
    write_split_file(path, [SplitRow("v.mp4", vid, vid, s, e, 32, 24) for vid, s, e in rows], "video")
    return str(path)


def _keys(split_path) -> list[str]:
    from vai_data import read_split_file

    return [r.path for r in read_split_file(split_path).rows]


@pytest.mark.parametrize("store", ["file", "lmdb"])
def test_two_splits_packed_into_one_out_keep_their_own_segments(tmp_path, store):
    """train rows v.mp4 0-9 and val rows v.mp4 10-19 packed into one --out (as the docs show) must not
    overwrite each other; packing a split again writes the same keys; a whole-video row keeps its name."""
    if store == "lmdb":
        pytest.importorskip("lmdb")
    _numbered_video(tmp_path / "data" / "v.mp4", 20)
    train = _video_split(tmp_path / "train.csv", [(1, 0, 9)])
    val = _video_split(tmp_path / "val.csv", [(2, 10, 19)])
    whole = _video_split(tmp_path / "all.csv", [(3, 0, 19)])
    out = tmp_path / "out"
    keys = {s: _keys(pack_split(s, tmp_path / "data", out, store=store)) for s in (train, val, whole)}
    assert _keys(pack_split(train, tmp_path / "data", out, store=store)) == keys[train]  # idempotent
    suffix = ".vpk" if store == "file" else ""
    assert keys == {train: [f"v__0-9{suffix}"], val: [f"v__10-19{suffix}"], whole: [f"v{suffix}"]}
    assert _stored_numbers(out, keys[train][0], store) == list(range(10))
    assert _stored_numbers(out, keys[val][0], store) == list(range(10, 20))
    assert _stored_numbers(out, keys[whole][0], store) == list(range(20))
    ds = VideoClipDataset(
        out / "splits" / "val.csv", out / "frames.lmdb" if store == "lmdb" else out, train=False, **SMALL
    )
    assert ds[0]["video_id"] == 2 and ds[0]["video"].shape == (3, 4, 16, 16)


def _frame_folder(folder, n: int, prefix: str = "", level: int = 0) -> None:
    from test_storage import encode_jpeg

    os.makedirs(folder, exist_ok=True)
    for i in range(n):
        img = np.zeros((24, 32, 3), np.uint8)
        img[..., 0] = STEP * (level + i)
        (folder / f"{prefix}{i:05d}.jpg").write_bytes(encode_jpeg(img, quality=95))


@pytest.mark.parametrize("store", ["file", "lmdb"])
def test_packing_leaves_other_sources_and_untagged_entries_alone(tmp_path, store):
    """Two sources with the same key (RGB and flow images in one folder) and an entry written before
    entries were tagged keep their frames; each run's rows go to a key of their own, the same every run."""
    if store == "lmdb":
        pytest.importorskip("lmdb")
    from vai_data.packed import write_packed

    _frame_folder(tmp_path / "data" / "a", 4)
    _frame_folder(tmp_path / "data" / "a", 6, prefix="flow_", level=10)
    _frame_folder(tmp_path / "data" / "b", 3, level=5)
    out = tmp_path / "out"
    out.mkdir()
    if store == "file":  # an untagged .vpk, as an older vai wrote it, under the key of folder b
        write_packed(str(out / "b.vpk"), _numbered_jpegs(2))
    else:
        lmdb = pytest.importorskip("lmdb")
        with lmdb.open(str(out / "frames.lmdb"), map_size=1 << 24) as env, env.begin(write=True) as txn:
            txn.put(b"b/n", b"1")
            txn.put(b"b/000000", _numbered_jpegs(1)[0])
    legacy = (out / "b.vpk").read_bytes() if store == "file" else None
    rows = {"rgb": ("a/{:05d}.jpg", 3), "flow": ("a/flow_{:05d}.jpg", 5), "b": ("b/{:05d}.jpg", 2)}
    keys = {}
    for name, (pattern, end) in rows.items():
        write_split_file(tmp_path / f"{name}.csv", [SplitRow(pattern, 1, 0, 0, end)], "frames")
        keys[name] = _keys(pack_split(tmp_path / f"{name}.csv", tmp_path / "data", out, store=store))[0]
    for name in rows:  # packing again: the same keys, nothing else written
        assert _keys(pack_split(tmp_path / f"{name}.csv", tmp_path / "data", out, store=store)) == [
            keys[name]
        ]
    suffix = ".vpk" if store == "file" else ""
    assert keys["rgb"] == f"a{suffix}"
    assert keys["flow"].startswith("a__") and keys["b"].startswith("b__") and len(set(keys.values())) == 3
    assert _stored_numbers(out, keys["rgb"], store) == [0, 1, 2, 3]
    assert _stored_numbers(out, keys["flow"], store) == [10, 11, 12, 13, 14, 15]
    assert _stored_numbers(out, keys["b"], store) == [5, 6, 7]
    if store == "file":
        assert (out / "b.vpk").read_bytes() == legacy
        assert sorted(p.name for p in out.glob("*.vpk")) == sorted([*keys.values(), "b.vpk"])
    else:
        assert _stored_numbers(out, "b", store) == [0]


def _grey_flow_store(tmp_path):
    """A 'grey' flow folder (u0, v0, u1, v1, ... for 8 flow frames) and a split of two rows of it."""
    from test_flow import _grey, _save, u_val, v_val

    for i in range(8):
        _save(tmp_path / "data" / "vid" / f"{2 * i:05d}.jpg", _grey(u_val(i)))
        _save(tmp_path / "data" / "vid" / f"{2 * i + 1:05d}.jpg", _grey(v_val(i)))
    rows = [SplitRow("vid/{:05d}.jpg", 7, 1, 0, 7), SplitRow("vid/{:05d}.jpg", 8, 0, 2, 7)]
    write_split_file(tmp_path / "flow.csv", rows, "frames")
    return tmp_path / "flow.csv"


@pytest.mark.parametrize("store", ["file", "lmdb"])
def test_grey_flow_split_packs_both_images_of_each_flow_frame(tmp_path, store):
    """start/end of a 'grey' split count flow frames: packing stores images 2*start..2*end+1, and the
    packed store gives the same flow clips as the folders."""
    if store == "lmdb":
        pytest.importorskip("lmdb")
    from test_flow import KW

    split = _grey_flow_store(tmp_path)
    out = tmp_path / "out"
    report_split = pack_split(split, tmp_path / "data", out, store=store, flow="grey")
    assert _keys(report_split) == (["vid.vpk", "vid__4-15.vpk"] if store == "file" else ["vid", "vid__4-15"])
    root = out / "frames.lmdb" if store == "lmdb" else out
    packed = VideoClipDataset(report_split, root, train=False, flow="grey", **KW)
    folders = VideoClipDataset(split, tmp_path / "data", train=False, flow="grey", **KW)
    assert [(r.start, r.end) for r in packed.split.rows] == [(0, 7), (0, 5)]
    assert len(packed) == len(folders)
    for i in range(len(folders)):
        a, b = packed[i], folders[i]
        assert torch.equal(a["video"], b["video"])  # (JPEG bytes copied: identical pixels)
        assert (a["frame_indices"] - packed.split.rows[i].start).tolist() == (
            b["frame_indices"] - folders.split.rows[i].start
        ).tolist()


def test_pack_cli_grey_flow_and_flow_errors(tmp_path, caplog):
    from test_flow import KW
    from vai_data.cli import main

    split = _grey_flow_store(tmp_path)
    argv = [
        "pack",
        "--split",
        str(split),
        "--data-root",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main([*argv, "--flow", "grey"]) == 0
    ds = VideoClipDataset(
        tmp_path / "o" / "splits" / "flow.csv", tmp_path / "o", train=False, flow="grey", **KW
    )
    ref = VideoClipDataset(split, tmp_path / "data", train=False, flow="grey", **KW)
    assert torch.equal(ds[1]["video"], ref[1]["video"])
    with pytest.raises(ValueError, match=r"flow='RR' keeps u and v in two folders"):
        pack_split(split, tmp_path / "data", tmp_path / "rr", flow="RR")
    video_split = _video_split(tmp_path / "v.csv", [(1, 0, 3)])
    with pytest.raises(
        ValueError, match=r"v\.csv: flow='grey' packs interleaved u/v frame folders, not a video"
    ):
        pack_split(video_split, tmp_path, tmp_path / "g", flow="grey")
    assert not (tmp_path / "rr").exists() and not (tmp_path / "g").exists()


def _split_with_a_junk_video(tmp_path, synth_root):
    from vai_data import read_split_file
    from vai_data.split_file import SplitRow as Row

    sf = read_split_file(os.path.join(synth_root, "splits", "val.csv"))
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 64)
    rows = [Row(os.path.join(synth_root, sf.rows[0].path), 1, 0, 0, 7, 32, 32)]
    rows.append(Row(str(tmp_path / "junk.mp4"), 900, 1, 0, 3, 32, 32))
    write_split_file(tmp_path / "videos.csv", rows, "video")
    return tmp_path / "videos.csv"


def test_pack_progress_keeps_warnings_off_the_bar_and_says_cannot_decode_once(tmp_path, synth_root, capsys):
    """With the bar on, a skipped row's WARNING starts a line of its own (through tqdm.write), and its
    reason reads 'cannot decode <path>: <error>', not 'cannot decode <path>: cannot decode for packing'."""
    import logging
    import sys

    from vai_data.packing import pack_split_report

    handler = logging.StreamHandler(sys.stderr)  # (what the CLI's logging.basicConfig installs)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        report = pack_split_report(
            _split_with_a_junk_video(tmp_path, synth_root), None, tmp_path / "p", progress=True
        )
    finally:
        logging.getLogger().removeHandler(handler)
    assert (report.packed, len(report.skipped)) == (1, 1)
    reason = report.skipped[0][1]
    assert (
        reason.startswith(f"cannot decode {tmp_path / 'junk.mp4'}: ") and reason.count("cannot decode") == 1
    )
    err = capsys.readouterr().err
    warned = [line for line in err.split("\n") if "skipped" in line]
    assert len(warned) == 1 and warned[0].split("\r")[-1].startswith("WARNING vai_data.packing: skipped ")


def test_pack_cli_names_out_when_it_would_overwrite_the_input_split(tmp_path, synth_root, caplog):
    import shutil

    from vai_data.cli import main
    from vai_data.packing import pack_split

    root = tmp_path / "data"
    shutil.copytree(synth_root, root)
    split = root / "splits" / "val.csv"
    assert main(["pack", "--split", str(split), "--data-root", str(root), "--out", str(root)]) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].endswith("choose another --out (e.g. a folder beside the data)")
    with pytest.raises(ValueError, match=r"choose another out_root \(e\.g\. a folder beside the data\)$"):
        pack_split(split, root, root)  # (the function names its own argument)
    assert not list(root.glob("**/*.vpk"))
