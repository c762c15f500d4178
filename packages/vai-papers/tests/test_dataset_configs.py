"""The shipped dataset configs of the papers' real datasets, on tiny fake datasets prepared the way the docs
say: fake official annotation files in each dataset's format, turned into split files by vai-data's own
generators (`vai-data splits`), with tiny JPEG frames (Pillow), videos (PyAV) or gulp directories."""

from __future__ import annotations

import pytest
from vai_data import read_split_file
from vai_papers_test_datasets import BUILDERS, CONFIGS, DATASETS, _env_name, _load, _prepare
from vai_train.config import ConfigError

# splits a config names that its generator writes only on request (or that the user provides)
OPTIONAL_SPLITS = {"test", "train_subsetT", "train_subsetV", "holdoutval", "multilabeltest"}
MEDIA_DIRS = {"frames": "frames", "video": "videos", "gulp": "gulp"}  # storage -> folder in the dataset root
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
