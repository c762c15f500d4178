"""Clips from the shipped dataset configs' folders: VideoClipDataset over each config's splits and media,
packed storage, and the EK-100-SPMV splits written by the epic100_verb config."""

from __future__ import annotations

import pytest
from vai_data import VideoClipDataset, pack_split, read_split_file
from vai_data.splits import epic100_verb_splits
from vai_papers_test_datasets import _load, _prepare


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
