"""Tiny fake copies of the papers' real datasets, prepared the way the docs say: fake official annotation
files in each dataset's format, turned into split files by vai-data's own generators (`vai-data splits`),
with tiny JPEG frames (Pillow), videos (PyAV) or gulp directories.

A uniquely named module, not a test module: the dataset-config tests and the full paper-config tests both
build their fake datasets with ``BUILDERS`` (and test directories of several packages share one sys.path
in a combined pytest run, so the name must not clash with another package's helper).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import vai_papers
from PIL import Image
from vai_data.gulp import write_gulp_directory
from vai_data.splits import (
    cater_splits,
    diving48_splits,
    epic100_verb_splits,
    hmdb51_splits,
    kinetics400_splits,
    something_v1_splits,
    something_v2_splits,
    ucf101_splits,
)
from vai_train.config import exec_config

CONFIGS = vai_papers.config_root() / "dataset_configs"
DATASETS = [
    "something_v1",
    "something_v2",
    "cater_task1",
    "cater_task2",
    "diving48",
    "diving48_v2",
    "epic100_verb",
    "hmdb",
    "confusing_hmdb_102",
    "kinetics400",
    "ucf101",
]


def _jpeg(width: int = 16, height: int = 12) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="JPEG")
    return buf.getvalue()


def _frames(folder: Path, n: int, first: int = 0) -> None:
    """``n`` JPEG frames ``{:05d}.jpg`` numbered from ``first``."""
    folder.mkdir(parents=True, exist_ok=True)
    data = _jpeg()
    for i in range(first, first + n):
        (folder / f"{i:05d}.jpg").write_bytes(data)


def _video(path: Path, n: int = 6) -> None:
    """A tiny mpeg4 video of ``n`` 16 x 12 frames."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 16, 12, "yuv420p"
        for i in range(n):
            img = np.full((12, 16, 3), 20 * i, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


# ------------------------------------------------------------------ fake official downloads -> splits
# Each builder writes the dataset's official annotation files into ``ann``, its media into the dataset
# folder ``root`` (frames/, videos/ or gulp/), and runs the generator as docs/datasets.md's command does
# (-o <root>/splits). It returns what the test checks: the media folder and the first class names.

SS_NAMES = [
    "Pushing something from left to right",
    "Pushing something from right to left",
    "Holding something",
] + [f"Doing something number {i}" for i in range(171)]


def _something_v1(root: Path, ann: Path):
    (ann / "something-something-v1-labels.csv").write_text("\n".join(SS_NAMES) + "\n")
    (ann / "something-something-v1-train.csv").write_text(
        "100218;Pushing something from left to right\n7;Holding something\n"
    )
    (ann / "something-something-v1-validation.csv").write_text("9;Pushing something from right to left\n")
    for vid in (100218, 7, 9):
        _frames(root / "frames" / str(vid), 6, first=1)  # the official frames are 1-based
    something_v1_splits(ann, root / "splits", frames_root=str(root / "frames"))
    return "frames", SS_NAMES[:3]


def _something_v2(root: Path, ann: Path):
    (ann / "labels.json").write_text(json.dumps({name: str(i) for i, name in enumerate(SS_NAMES)}))
    item = {"label": "x", "placeholders": ["x"]}
    train = [
        dict(item, id="78687", template="Pushing [something] from left to right"),
        dict(item, id="5", template="Holding [something]"),
    ]
    (ann / "train.json").write_text(json.dumps(train))
    (ann / "validation.json").write_text(
        json.dumps([dict(item, id="42", template="Pushing [something] from right to left")])
    )
    for vid in ("78687", "5", "42"):
        _video(root / "videos" / f"{vid}.mp4")
    something_v2_splits(ann, root / "splits", videos_root=str(root / "videos"), video_ext="mp4")
    return "video", SS_NAMES[:3]


def _cater(task: int) -> Callable:
    def build(root: Path, ann: Path):
        lists = ann / "lists" / ("actions_present" if task == 1 else "actions_order_uniq")
        lists.mkdir(parents=True)
        (lists / "train.txt").write_text("CATER_new_005000.avi 3,13\nCATER_new_000007.avi 0\n")
        (lists / "val.txt").write_text("CATER_new_000009.avi 1,2\n")
        for name in ("CATER_new_005000", "CATER_new_000007", "CATER_new_000009"):
            _frames(root / "frames" / name, 6)
        cater_splits(lists, root / "splits", task=task, frames_root=str(root / "frames"))
        first = ["sphere_slide"] if task == 1 else ["sphere_slide before sphere_slide"]
        return "frames", first

    return build


def _diving48(version: int) -> Callable:
    def build(root: Path, ann: Path):
        prefix = "Diving48" if version == 1 else "Diving48_V2"
        train = [{"vid_name": "b_00001", "label": 5}, {"vid_name": "a_00002", "label": 47}]
        (ann / f"{prefix}_train.json").write_text(json.dumps(train))
        (ann / f"{prefix}_test.json").write_text(json.dumps([{"vid_name": "c_1", "label": 0}]))
        vocab = [["Back", "15som", "05Twis", "FREE"]] + [
            ["Inward", f"{i}som", "NoTwis", "TUCK"] for i in range(47)
        ]
        (ann / "Diving48_vocab.json").write_text(json.dumps(vocab))
        for name in ("b_00001", "a_00002", "c_1"):
            _video(root / "videos" / f"{name}.mp4")
        diving48_splits(ann, root / "splits", version=version, videos_root=str(root / "videos"))
        return "video", ["Back 15som 05Twis FREE", "Inward 0som NoTwis TUCK"]

    return build


EPIC_HEAD = "narration_id,participant_id,video_id,start_frame,stop_frame,verb_class\n"
EPIC_VERBS = ["take", "put", "wash"] + [f"verb{i}" for i in range(94)]


def _epic100_annotations(ann: Path) -> None:
    (ann / "EPIC_100_train.csv").write_text(
        EPIC_HEAD + "P01_01_0,P01,P01_01,1,4,3\nP01_01_1,P01,P01_01,5,9,0\n"
    )
    (ann / "EPIC_100_validation.csv").write_text(
        EPIC_HEAD + "P01_11_0,P01,P01_11,1,4,0\nP01_11_1,P01,P01_11,2,6,1\nP01_11_2,P01,P01_11,3,5,2\n"
    )
    (ann / "EPIC_100_verb_classes.csv").write_text(
        "id,key,instances,category\n" + "".join(f'{i},{v},"[]",c\n' for i, v in enumerate(EPIC_VERBS))
    )


def _epic100_verb(root: Path, ann: Path):
    _epic100_annotations(ann)
    frames = {"P01_01_0": 4, "P01_01_1": 5, "P01_11_0": 4, "P01_11_1": 5, "P01_11_2": 3}
    write_gulp_directory(str(root / "gulp"), {key: [_jpeg()] * n for key, n in frames.items()})
    epic100_verb_splits(ann, root / "splits")  # gulp rows keyed by narration_id (the default mode)
    return "gulp", EPIC_VERBS[:3]


HMDB_CLASSES = sorted(["brush_hair", "cartwheel"] + [f"zz_action_{i:02d}" for i in range(49)])


def _hmdb(confusion: int) -> Callable:
    def build(root: Path, ann: Path):
        lists = ann / "testTrainMulti_7030_splits"
        lists.mkdir(parents=True)
        for cls in HMDB_CLASSES:
            for k in (1, 2, 3):
                (lists / f"{cls}_test_split{k}.txt").write_text(
                    f"{cls}_a.avi 1\n{cls}_b.avi 2\n{cls}_c.avi 0\n"
                )
        for cls in HMDB_CLASSES[:2]:  # media for two classes only: the other clips are skipped, as missing
            for clip in ("a", "b", "c"):
                _frames(root / "frames" / cls / f"{cls}_{clip}", 4)
        hmdb51_splits(lists, root / "splits", confusion=confusion, frames_root=str(root / "frames"))
        names = HMDB_CLASSES[:2]
        return "frames", names if confusion == 1 else names + ["zz_action_00"]

    return build


UCF_CLASSES = [f"Action{i:03d}" for i in range(101)]


def _ucf101(root: Path, ann: Path):
    lists = ann / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(UCF_CLASSES)))
    for k in (1, 2, 3):
        (lists / f"trainlist0{k}.txt").write_text(
            "".join(f"{c}/v_{c}_g01_c01.avi {i + 1}\n" for i, c in enumerate(UCF_CLASSES[:2]))
        )
        (lists / f"testlist0{k}.txt").write_text("".join(f"{c}/v_{c}_g02_c01.avi\n" for c in UCF_CLASSES[:2]))
    for c in UCF_CLASSES[:2]:
        for g in ("g01", "g02"):
            _frames(root / "frames" / c / f"v_{c}_{g}_c01", 4)
    ucf101_splits(lists, root / "splits", frames_root=str(root / "frames"))
    return "frames", UCF_CLASSES[:2]


def _kinetics400(root: Path, ann: Path):
    head = "label,youtube_id,time_start,time_end,split\n"
    (ann / "train.csv").write_text(
        head + "".join(f"class {i:03d},yt{i:03d},10,20,train\n" for i in range(400))
    )
    (ann / "validate.csv").write_text(head + "class 001,val001,0,10,val\n")
    _video(root / "videos" / "train" / "class_000" / "yt000_000010_000020.mp4")
    _video(root / "videos" / "train" / "class_001" / "yt001_000010_000020.mp4")
    _video(root / "videos" / "val" / "val001_000000_000010.mp4")
    kinetics400_splits(ann, root / "splits", videos_root=str(root / "videos"))  # 398 clips missing: skipped
    return "video", ["class 000", "class 001"]


BUILDERS: dict[str, Callable] = {
    "something_v1": _something_v1,
    "something_v2": _something_v2,
    "cater_task1": _cater(1),
    "cater_task2": _cater(2),
    "diving48": _diving48(1),
    "diving48_v2": _diving48(2),
    "epic100_verb": _epic100_verb,
    "hmdb": _hmdb(1),
    "confusing_hmdb_102": _hmdb(2),
    "kinetics400": _kinetics400,
    "ucf101": _ucf101,
}


def _env_name(name: str, what: str = "ROOT") -> str:
    return f"VAI_{name.upper()}_{what}"


def _load(name: str):
    return exec_config(CONFIGS / f"{name}.py", f"test_dataset_cfg_{name}")


def _prepare(name: str, tmp_path: Path, monkeypatch) -> tuple[Path, str, list[str]]:
    """Build dataset ``name`` in tmp_path/<name> and point its root variable at it."""
    root, ann = tmp_path / name, tmp_path / f"{name}_annotations"
    ann.mkdir(parents=True)
    storage, first_names = BUILDERS[name](root, ann)
    monkeypatch.setenv(_env_name(name), str(root))
    return root, storage, first_names
