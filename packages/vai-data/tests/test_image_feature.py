import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from vai_data import FeatureDataset, ImageDataset, SplitRow, VideoClipDataset, write_split_file


def test_image_dataset(tmp_path):
    rows = []
    for i in range(3):
        Image.fromarray(np.full((30, 40, 3), 40 * i, dtype=np.uint8)).save(tmp_path / f"{i}.jpg")
        rows.append(SplitRow(f"{i}.jpg", 100 + i, i))
    write_split_file(tmp_path / "img.csv", rows, "image")
    ds = ImageDataset(tmp_path / "img.csv", tmp_path, train=True, crop_size=16, scale_jitter=(20, 24))
    s = ds[1]
    assert s["video"].shape == (3, 1, 16, 16) and s["label"] == 1 and s["video_id"] == 101
    test = ImageDataset(
        tmp_path / "img.csv", tmp_path, train=False, crop_size=16, test_scale=20, num_spatial_crops=5
    )
    assert len(test) == 15 and test[7]["spatial_idx"] == 2 and test[7]["video_id"] == 101
    with pytest.raises(ValueError, match="use vai_data.ImageDataset"):
        VideoClipDataset(tmp_path / "img.csv", tmp_path, train=True)


def test_image_dataset_bad_file_skip(tmp_path):
    Image.fromarray(np.zeros((20, 20, 3), dtype=np.uint8)).save(tmp_path / "ok.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8garbage")
    write_split_file(tmp_path / "s.csv", [SplitRow("bad.jpg", 0, 0), SplitRow("ok.jpg", 1, 1)], "image")
    ds = ImageDataset(tmp_path / "s.csv", tmp_path, train=True, crop_size=8, scale_jitter=(10, 10))
    assert ds[0]["video_id"] == 1 and ds.bad_samples == 1


def test_feature_dataset_and_pickle(tmp_path):
    feats = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    ds = FeatureDataset([5, 6, 7, 8], [0, 2, 1, 2], feats)
    s = ds[1]
    assert s["video"].shape == (6,) and s["label"] == 2 and s["video_id"] == 6 and ds.num_classes == 3
    path = tmp_path / "f.pkl"
    with open(path, "wb") as f:
        pickle.dump(
            {"video_ids": np.arange(4), "labels": np.eye(3)[[0, 1, 2, 0]], "clip_features": (feats,)}, f
        )
    ml = FeatureDataset.from_pickle(path)
    assert (
        ml.multilabel
        and ml[2]["label"].tolist() == [0, 0, 1]
        and torch.allclose(ml[0]["video"], torch.from_numpy(feats[0]))
    )
    with pytest.raises(ValueError, match="same length"):
        FeatureDataset([1, 2], [0], feats[:2])


def test_neighbour_frames_in_dataset(synth_root):
    ds = VideoClipDataset(
        f"{synth_root}/splits/val_frames.csv",
        synth_root,
        train=False,
        num_frames=2,
        num_neighbours=2,
        crop_size=16,
        test_scale=20,
    )
    s = ds[0]
    assert s["frame_indices"].tolist() == [0, 1, 2, 3, 4, 5]
    assert s["video"].shape == (3, 6, 16, 16)


def test_feature_dataset_from_npz_as_written_by_vai_train(tmp_path):
    feats = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "features_epoch_0001_val_oneclip.npz"
    np.savez(path, video_ids=np.array([10, 11, 12]), labels=np.array([1, 0, 1]), features=feats)
    ds = FeatureDataset.from_file(path)
    assert len(ds) == 3 and ds[2]["video_id"] == 12 and ds[2]["label"] == 1
    assert torch.equal(ds[1]["video"], torch.from_numpy(feats[1]))
    with pytest.raises(KeyError, match="logits"):
        FeatureDataset.from_file(path, feature_key="logits")


def test_feature_pickle_with_foreign_class_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    path = tmp_path / "evil.pkl"
    with open(path, "wb") as f:
        pickle.dump({"video_ids": [0], "labels": [0], "clip_features": Evil()}, f)
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        FeatureDataset.from_file(path)


def test_feature_dataset_clear_errors(tmp_path):
    feats = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"labels are ragged .*row 0 has 2 values, row 1 has 1\).*multi-hot"):
        FeatureDataset([1, 2, 3], [(0, 1), (2,), (1, 2)], feats)
    with pytest.raises(ValueError, match=r"features are ragged .*row 2 has 3\); expected \(N, D\.\.\.\)"):
        FeatureDataset([1, 2, 3], [0, 1, 2], [[0.0] * 4, [0.0] * 4, [0.0] * 3])
    for name, what in (
        ("nope.pkl", "upstream feature pickle with video_ids, labels and clip_features"),
        ("nope.npz", "npz with video_ids, labels and features"),
    ):
        with pytest.raises(
            FileNotFoundError, match=rf"feature file .*{name} does not exist; expected .*{what}"
        ):
            FeatureDataset.from_file(tmp_path / name)
    with pytest.raises(
        FileNotFoundError, match=r"nope\.pkl does not exist; expected an upstream feature pickle"
    ):
        FeatureDataset.from_pickle(tmp_path / "nope.pkl")
