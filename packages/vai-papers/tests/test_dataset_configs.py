"""The shipped dataset configs of the papers' real datasets, on tiny fake datasets prepared the way the docs
say: fake official annotation files in each dataset's format, turned into split files by vai-data's own
generators (`vai-data splits`), with tiny JPEG frames (Pillow), videos (PyAV) or gulp directories."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import vai_papers
from PIL import Image
from vai_data import VideoClipDataset, pack_split, read_split_file
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
from vai_train import list_configs_text, run_train
from vai_train.config import ConfigError, discover_roots, exec_config, load_exp_config

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
# splits a config names that its generator writes only on request (or that the user provides)
OPTIONAL_SPLITS = {"test", "train_subsetT", "train_subsetV", "holdoutval", "multilabeltest"}
MEDIA_DIRS = {"frames": "frames", "video": "videos", "gulp": "gulp"}  # storage -> folder in the dataset root


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
EXPECTED = {  # num_classes, task
    "something_v1": (174, "single_label"),
    "something_v2": (174, "single_label"),
    "cater_task1": (14, "multi_label"),
    "cater_task2": (301, "multi_label"),
    "diving48": (48, "single_label"),
    "diving48_v2": (48, "single_label"),
    "epic100_verb": (97, "single_label"),
    "hmdb": (51, "single_label"),
    "confusing_hmdb_102": (102, "single_label"),
    "kinetics400": (400, "single_label"),
    "ucf101": (101, "single_label"),
}


def _env_name(name: str, what: str = "ROOT") -> str:
    return f"VAI_{name.upper()}_{what}"


def _load(name: str):
    return exec_config(CONFIGS / f"{name}.py", f"test_dataset_cfg_{name}")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No dataset variables from the caller's shell; VAI_DATA_ROOT in tmp_path."""
    for name in DATASETS:
        monkeypatch.delenv(_env_name(name), raising=False)
        monkeypatch.delenv(_env_name(name, "STORAGE"), raising=False)
    monkeypatch.delenv("VAI_SPLITNUM", raising=False)
    monkeypatch.delenv("VAI_EPIC100_MULTIVERB_CSV", raising=False)
    monkeypatch.setenv("VAI_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def _prepare(name: str, tmp_path: Path, monkeypatch) -> tuple[Path, str, list[str]]:
    """Build dataset ``name`` in tmp_path/<name> and point its root variable at it."""
    root, ann = tmp_path / name, tmp_path / f"{name}_annotations"
    ann.mkdir(parents=True)
    storage, first_names = BUILDERS[name](root, ann)
    monkeypatch.setenv(_env_name(name), str(root))
    return root, storage, first_names


def test_every_dataset_has_a_builder():
    assert set(BUILDERS) == set(DATASETS) == set(EXPECTED)
    for name in DATASETS:
        assert (CONFIGS / f"{name}.py").is_file()


@pytest.mark.parametrize("name", DATASETS)
def test_config_reads_the_prepared_dataset(name, tmp_path, clean_env):
    root, storage, first_names = _prepare(name, tmp_path, clean_env)
    cfg = _load(name)
    num_classes, task = EXPECTED[name]
    assert (cfg.num_classes, cfg.task) == (num_classes, task)
    assert cfg.data_dir() == root and cfg.storage == "auto"
    keys = cfg.class_keys
    assert len(keys) == num_classes and keys[: len(first_names)] == first_names
    assert keys == (root / "splits" / "classes.txt").read_text().splitlines()
    assert set(cfg.split_file_basename) <= set(cfg.split2mode)
    assert cfg.split2mode["train"] == "train" and cfg.split2mode["val"] == "test"
    produced = [s for s in cfg.split_file_basename if s not in OPTIONAL_SPLITS]
    assert {"train", "val", "multicropval", "traindata_testmode"} <= set(produced)
    for split in produced:
        path = cfg.split_file(split)
        assert path == root / "splits" / cfg.split_file_basename[split]
        sf = read_split_file(path)
        assert sf.rows, f"{path} has no rows"
        assert cfg.resolve_storage(split) == storage
        assert cfg.media_root(split) == root / MEDIA_DIRS[storage]
        multi = task == "multi_label" or (name == "confusing_hmdb_102" and path.name.startswith("test"))
        assert sf.num_classes == (num_classes if multi else 0), split
        labels = [v for r in sf.rows for v in (r.label if isinstance(r.label, tuple) else (r.label,))]
        assert all(0 <= v < num_classes for v in labels)
    flip = cfg.flip_label_map()
    if name.startswith("something"):
        assert cfg.horizontal_flip is False and flip == {0: 1, 1: 0}  # left to right <-> right to left
    else:
        assert cfg.horizontal_flip is True and flip == {}


@pytest.mark.parametrize("name", DATASETS)
def test_unprepared_dataset_fails_with_one_line_naming_the_command(name, tmp_path, clean_env):
    cfg = _load(name)  # the config itself loads without data (vai-train reads num_classes at once)
    assert cfg.data_dir() == tmp_path / "data" / name  # the $VAI_DATA_ROOT/<dataset> default
    generator = {
        "something_v1": "something-v1",
        "something_v2": "something-v2",
        "cater_task1": "cater",
        "cater_task2": "cater",
        "diving48": "diving48",
        "diving48_v2": "diving48",
        "epic100_verb": "epic100",
        "hmdb": "hmdb51",
        "confusing_hmdb_102": "hmdb51",
        "kinetics400": "kinetics400",
        "ucf101": "ucf101",
    }[name]
    for fails in (lambda: cfg.class_keys, lambda: cfg.split_file("train"), lambda: cfg.media_root("val")):
        with pytest.raises(FileNotFoundError) as info:
            fails()
        message = str(info.value)
        assert "\n" not in message and f"`vai-data splits {generator} " in message
        assert str(tmp_path / "data" / name / "splits") in message and _env_name(name) in message


def test_hmdb_and_ucf_splits_follow_vai_splitnum(tmp_path, clean_env):
    root, _, _ = _prepare("hmdb", tmp_path, clean_env)
    clean_env.setenv("VAI_SPLITNUM", "2")
    cfg = _load("hmdb")
    assert cfg.split_num == 2 and cfg.split_file("train") == root / "splits" / "train2.csv"
    assert cfg.split_file("multicropval") == root / "splits" / "test2.csv"
    for name in ("hmdb", "confusing_hmdb_102", "ucf101"):
        clean_env.setenv("VAI_SPLITNUM", "4")
        with pytest.raises(ConfigError, match=r"VAI_SPLITNUM='4': .* has splits 1, 2 and 3$"):
            _load(name)


def test_storage_variable_is_checked(tmp_path, clean_env):
    root, _, _ = _prepare("something_v1", tmp_path, clean_env)
    clean_env.setenv("VAI_SOMETHING_V1_STORAGE", "tape")
    with pytest.raises(ConfigError, match="VAI_SOMETHING_V1_STORAGE='tape' is not a storage of something_v1"):
        _load("something_v1")
    clean_env.setenv("VAI_SOMETHING_V1_STORAGE", "video")  # the splits hold frames rows
    with pytest.raises(
        ValueError, match=r"train\.csv holds frames rows, not video rows; set VAI_SOMETHING_V1_STORAGE=frames"
    ):
        _load("something_v1").split_file("train")
    clean_env.setenv("VAI_KINETICS400_STORAGE", "gulp")  # Kinetics' generator has no gulp mode
    with pytest.raises(ConfigError, match="use auto or one of video, frames, packed, lmdb"):
        _load("kinetics400")
    with pytest.raises(KeyError, match="no split 'test'"):
        _load("something_v1").split_file("test")


def test_class_list_of_another_dataset_is_refused(tmp_path, clean_env):
    root, _, _ = _prepare("cater_task1", tmp_path, clean_env)
    (root / "splits" / "classes.txt").write_text("a\nb\n")
    with pytest.raises(ValueError, match=r"classes\.txt lists 2 classes, but cater_task1 has 14"):
        _load("cater_task1").class_keys  # noqa: B018


def test_missing_media_folder_is_one_line(tmp_path, clean_env):
    root, _, _ = _prepare("ucf101", tmp_path, clean_env)
    (root / "frames").rename(root / "elsewhere")
    with pytest.raises(
        FileNotFoundError, match=r"ucf101: frames folder .*frames not found; put the data there"
    ):
        _load("ucf101").media_root("train")


# ------------------------------------------------------------------ clips from the configs' folders


def _clip_dataset(cfg, split: str, **kw) -> VideoClipDataset:
    return VideoClipDataset(
        cfg.split_file(split),
        cfg.media_root(split),
        train=cfg.split2mode[split] == "train",
        num_frames=4,
        crop_size=8,
        scale_jitter=(8, 10),
        test_scale=8,
        horizontal_flip=cfg.horizontal_flip,
        flip_label_map=cfg.flip_label_map(),
        **kw,
    )


@pytest.mark.parametrize("name", ["something_v1", "something_v2", "epic100_verb", "cater_task2"])
def test_video_clip_dataset_yields_samples(name, tmp_path, clean_env):
    _prepare(name, tmp_path, clean_env)
    cfg = _load(name)
    for split in ("train", "val"):
        ds = _clip_dataset(cfg, split)
        sample = ds[0]
        assert sample["video"].shape == (3, 4, 8, 8)
        if cfg.task == "multi_label":
            assert sample["label"].shape == (cfg.num_classes,)
    assert _clip_dataset(cfg, "val").storage == cfg.resolve_storage("val")


def test_packed_storage_reads_the_packed_folder(tmp_path, clean_env):
    root, _, _ = _prepare("something_v1", tmp_path, clean_env)
    for split in ("train", "val"):
        pack_split(root / "splits" / f"{split}.csv", str(root / "frames"), root / "packed")
    clean_env.setenv("VAI_SOMETHING_V1_STORAGE", "packed")
    cfg = _load("something_v1")
    assert cfg.split_file("train") == root / "packed" / "splits" / "train.csv"
    assert cfg.media_root("train") == root / "packed"
    ds = _clip_dataset(cfg, "val")
    assert ds.storage == "packed" and ds[0]["video"].shape == (3, 4, 8, 8)
    (root / "packed" / "splits" / "val.csv").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"packed/splits/val\.csv not found .*; pack .*splits/val\.csv into"
    ):
        cfg.split_file("val")
    # with only the packed splits left, auto finds them
    clean_env.delenv("VAI_SOMETHING_V1_STORAGE")
    (root / "splits" / "train.csv").unlink()
    cfg = _load("something_v1")
    assert cfg.resolve_storage("train") == "packed" and cfg.resolve_storage("val") == "frames"


def test_epic100_spmv_splits(tmp_path, clean_env):
    root, _, _ = _prepare("epic100_verb", tmp_path, clean_env)
    cfg = _load("epic100_verb")
    with pytest.raises(
        FileNotFoundError, match=r"\(split 'holdoutval'; EK-100-SPMV: write it with write_spmv_splits"
    ):
        cfg.split_file("holdoutval")
    with pytest.raises(FileNotFoundError, match="multi-verb labels .* not found; EK-100-SPMV needs"):
        cfg.write_spmv_splits()
    (root / cfg.multiverb_csv_name).write_text(
        'narration_id,verb_labels\nP01_11_1,"[1, 0]"\nP99_01_0,"[2]"\n'
    )
    written = cfg.write_spmv_splits()
    assert written == {
        "holdoutval": cfg.split_file("holdoutval"),
        "multilabeltest": cfg.split_file("multilabeltest"),
    }
    holdout, multi = read_split_file(written["holdoutval"]), read_split_file(written["multilabeltest"])
    assert [r.path for r in holdout.rows] == ["P01_11_0", "P01_11_2"] and holdout.num_classes == 0
    assert multi.num_classes == 97 and [(r.path, r.label) for r in multi.rows] == [("P01_11_1", (0, 1))]
    sample = _clip_dataset(cfg, "multilabeltest")[0]
    assert sample["label"].shape == (97,) and sample["label"][:3].tolist() == [1.0, 1.0, 0.0]
    # frames rows do not name the narration: the annotations number them as the generator does
    frames_root = tmp_path / "ek_frames"
    epic100_verb_splits(tmp_path / "epic100_verb_annotations", frames_root / "splits", mode="frames")
    clean_env.setenv("VAI_EPIC100_VERB_ROOT", str(frames_root))
    (root / cfg.multiverb_csv_name).rename(tmp_path / "multi.csv")
    clean_env.setenv("VAI_EPIC100_MULTIVERB_CSV", str(tmp_path / "multi.csv"))
    cfg = _load("epic100_verb")
    with pytest.raises(
        ValueError, match="holds frames rows, which do not name the narration ids; pass annotation_dir"
    ):
        cfg.write_spmv_splits()
    written = cfg.write_spmv_splits(annotation_dir=tmp_path / "epic100_verb_annotations")
    multi = read_split_file(written["multilabeltest"])
    assert [(r.path, r.label) for r in multi.rows] == [("P01/rgb_frames/P01_11/frame_{:010d}.jpg", (0, 1))]
    (tmp_path / "multi.csv").write_text('narration_id,verb_labels\nP01_11_1,"[97]"\n')
    with pytest.raises(
        ValueError, match=r"multi\.csv:2: verb_labels '\[97\]' is not a JSON list of verb ids"
    ):
        cfg.write_spmv_splits(annotation_dir=tmp_path / "epic100_verb_annotations")


# ------------------------------------------------------------------ through vai-train

EXP_CONFIG = """\
from vai_data import VideoClipDataset

batch_size = 2
num_epochs = 1
input_frame_length = 4
num_workers = 0


def get_torch_dataset(split):
    return VideoClipDataset(
        dataset_cfg.split_file(split),
        dataset_cfg.media_root(split),
        train=dataset_cfg.split2mode[split] == "train",
        num_frames=input_frame_length,
        crop_size=32,
        scale_jitter=(32, 36),
        test_scale=32,
        horizontal_flip=dataset_cfg.horizontal_flip,
        flip_label_map=dataset_cfg.flip_label_map(),
        mean=model_cfg.input_mean,
        std=model_cfg.input_std,
    )
"""


def test_vai_train_loads_and_trains_on_a_prepared_dataset(tmp_path, clean_env):
    _prepare("something_v1", tmp_path, clean_env)
    exp_root = tmp_path / "my_configs"
    (exp_root / "exp_configs" / "something_v1").mkdir(parents=True)
    (exp_root / "exp_configs" / "something_v1" / "tsn_resnet18-tiny.py").write_text(EXP_CONFIG)
    roots = discover_roots([exp_root, vai_papers.config_root()], use_entry_points=False)
    cfg = load_exp_config(roots, "something_v1", "tsn_resnet18", "tiny")
    assert cfg.num_classes == 174 and cfg.task == "single_label"
    assert cfg.exp_cfg.get_torch_dataset("train")[0]["video"].shape == (3, 4, 32, 32)
    args = ["-D", "something_v1", "-M", "tsn_resnet18", "-E", "tiny", "-R", str(tmp_path / "exp"), "-w", "0"]
    roots_args = ["--config-root", str(exp_root), "--config-root", str(vai_papers.config_root())]
    result = run_train(args + roots_args + ["--no-progress", "--plot-period", "-1"])
    assert result.last_epoch == 1 and np.isfinite(float(result.summary[-1]["train_loss"]))
    # every executed dataset config file (the include too) is kept with the run
    copied = {p.name for p in (result.run_dir / "configs" / "dataset_configs").rglob("*.py")}
    assert {"something_v1.py", "_prepared_dataset.py"} <= copied


def test_vai_train_list_shows_the_dataset_configs_without_the_building_block():
    text = list_configs_text(["--config-root", str(vai_papers.config_root())])
    for name in DATASETS:
        assert f"\n  {name} " in text
    assert "_prepared_dataset" not in text
