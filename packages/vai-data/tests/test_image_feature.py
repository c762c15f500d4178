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


def test_image_dataset_refuses_padded_crops_and_bad_scale_jitter(tmp_path):
    Image.fromarray(np.zeros((20, 20, 3), dtype=np.uint8)).save(tmp_path / "a.jpg")
    write_split_file(tmp_path / "s.csv", [SplitRow("a.jpg", 0, 0)], "image")
    split = tmp_path / "s.csv"
    with pytest.raises(
        ValueError, match=r"crop_size=24 is larger than the smallest short side of scale_jitter \(20\)"
    ):
        ImageDataset(split, tmp_path, train=True, crop_size=24, scale_jitter=(20, 30))
    with pytest.raises(
        ValueError, match=r"crop_size=\(16, 24\) is larger than test_scale \(12\).*lower crop_size"
    ):
        ImageDataset(split, tmp_path, train=False, crop_size=(16, 24), test_scale=12)
    for bad in ((30, 20), (0, 10), (20,)):
        with pytest.raises(
            ValueError, match=r"scale_jitter=.* must be \(min, max\) short sides with 1 <= min <= max"
        ):
            ImageDataset(split, tmp_path, train=True, crop_size=8, scale_jitter=bad)
    with pytest.raises(ValueError, match="test_scale=0 must be a positive int"):
        ImageDataset(split, tmp_path, train=False, crop_size=8, test_scale=0)
    # a crop equal to the scale fits: no padding, and the sample has the crop's size
    fits = ImageDataset(split, tmp_path, train=True, crop_size=20, scale_jitter=(20, 20))
    assert fits[0]["video"].shape == (3, 1, 20, 20)
    test = ImageDataset(split, tmp_path, train=False, crop_size=12, test_scale=12)
    assert test[0]["video"].shape == (3, 1, 12, 12)


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
    assert ds.num_classes == 2  # the largest label + 1, unless told: a split may hold no sample of class 4
    assert FeatureDataset.from_file(path, num_classes=5).num_classes == 5
    with pytest.raises(ValueError, match="num_classes=0 must be a positive int"):
        FeatureDataset.from_file(path, num_classes=0)
    empty = tmp_path / "features_epoch_0002_val_oneclip.npz"
    empty.write_bytes(b"")  # an interrupted copy
    with pytest.raises(ValueError, match=rf"^{empty}: not a readable .npz features file"):
        FeatureDataset.from_file(empty)
    with open(empty, "wb") as f:
        np.save(f, feats)  # an .npy under an .npz name
    with pytest.raises(ValueError, match=rf"^{empty}: not a readable .npz features file: one .npy array"):
        FeatureDataset.from_file(empty)


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
        FeatureDataset([1, 2, 3], [[0.0, 1.0], [1.0], [0.5, 0.5]], feats)
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


def test_feature_dataset_reads_class_index_tuples_as_multi_hot(tmp_path):
    feats = np.zeros((2, 4), np.float32)
    ds = FeatureDataset([1, 2], [(3, 17), (0, 5)], feats)
    assert ds.multilabel and ds.num_classes == 18
    assert ds[0]["label"].nonzero().flatten().tolist() == [3, 17] and ds[0]["label"].dtype == torch.float32
    assert ds[1]["label"].nonzero().flatten().tolist() == [0, 5]
    lists = FeatureDataset([1, 2], [[1], [0, 2]], feats, num_classes=5)
    assert lists.num_classes == 5 and lists[1]["label"].tolist() == [1, 0, 1, 0, 0]
    # the labels of a multi-label split, as SplitDataset.labels gives them
    rows = [SplitRow("a.jpg", 7, (0, 2)), SplitRow("b.jpg", 8, (1,))]
    write_split_file(tmp_path / "ml.csv", rows, "image", num_classes=4)
    split = ImageDataset(tmp_path / "ml.csv", tmp_path, train=False, crop_size=8, test_scale=8)
    from_split = FeatureDataset(split.video_ids, split.labels, feats, num_classes=split.num_classes)
    assert from_split.num_classes == 4 and from_split[0]["label"].tolist() == [1, 0, 1, 0]
    with pytest.raises(
        ValueError, match=r"labels\[1\] = \(0, 5\) names a class outside 0\.\.3; raise num_classes"
    ):
        FeatureDataset([1, 2], [(3,), (0, 5)], feats, num_classes=4)
    with pytest.raises(ValueError, match=r"labels\[0\] = \(-1, 2\) .*class indices must be >= 0"):
        FeatureDataset([1, 2], [(-1, 2), (0,)], feats)


def test_feature_dataset_label_rows_keep_soft_values_and_masks():
    feats = np.zeros((2, 3), np.float32)
    rows = np.array([[0.0, 0.3, 1.0], [-1.0, 1.0, 0.0]], np.float32)
    ds = FeatureDataset([1, 2], rows, feats)
    assert ds.multilabel and ds.num_classes == 3 and ds[1]["label"].tolist() == [-1.0, 1.0, 0.0]
    assert FeatureDataset([1, 2], torch.from_numpy(rows), feats)[0]["label"].tolist() == pytest.approx(
        [0.0, 0.3, 1.0]
    )
    assert FeatureDataset([1, 2], [[0.0, 1.0], [1.0, 0.0]], feats).num_classes == 2  # lists of floats: rows
    with pytest.raises(ValueError, match="num_classes=4 but the multi-hot label rows have 3 values"):
        FeatureDataset([1, 2], rows, feats, num_classes=4)


def test_feature_dataset_refuses_class_indices_as_rows_and_bad_label_shapes():
    feats = np.zeros((2, 3), np.float32)
    with pytest.raises(
        ValueError, match=r"labels\[0, 0\] = 3, .*look like class indices; pass them as a list of tuples"
    ):
        FeatureDataset([1, 2], np.array([[3, 17], [0, 5]]), feats)
    with pytest.raises(
        ValueError, match=r"labels are float64 of shape \(2, 3, 4\); expected one class index"
    ):
        FeatureDataset([1, 2], np.zeros((2, 3, 4)), feats)
    with pytest.raises(ValueError, match="num_classes=0 must be a positive int"):
        FeatureDataset([1, 2], [0, 1], feats, num_classes=0)


def test_feature_dataset_index_range_matches_split_datasets():
    ds = FeatureDataset([5, 6], [0, 1], np.zeros((2, 3), np.float32))
    assert ds[1]["video_id"] == 6
    for bad in (-1, 2):
        with pytest.raises(IndexError, match=f"index {bad} out of range for a dataset of 2 samples"):
            ds[bad]


def test_feature_dataset_single_label_indices_are_checked():
    feats = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match=r"labels\[1\] = 5 is outside the classes 0..2; raise num_classes"):
        FeatureDataset([1, 2], [0, 5], feats, num_classes=3)
    with pytest.raises(ValueError, match=r"labels\[0\] = -1 .*class indices must be >= 0"):
        FeatureDataset([1, 2], [-1, 1], feats)
    assert FeatureDataset([1, 2], [0, 5], feats).num_classes == 6


def test_feature_dataset_negative_labels_say_labels_must_be_nonnegative():
    """Not 'outside the classes 0..-1' (no class count inferred) nor 'raise num_classes' (num_classes given)."""
    feats = np.zeros((2, 4), np.float32)
    for kw in ({}, {"num_classes": 3}):
        with pytest.raises(
            ValueError, match=r"^labels\[0\] = -1 is negative: labels must be >= 0 \("
        ) as info:
            FeatureDataset([1, 2], [-1, 0], feats, **kw)
        assert "0..-1" not in str(info.value) and "raise num_classes" not in str(info.value)
        with pytest.raises(
            ValueError, match=r"^labels\[1\] = \(0, -2\) holds a negative class: labels must be >= 0"
        ):
            FeatureDataset([1, 2], [(1,), (0, -2)], feats, **kw)


def test_image_dataset_refuses_a_bad_crop_count_in_both_modes(tmp_path):
    from PIL import Image
    from vai_data import ImageDataset, SplitRow, write_split_file

    Image.new("RGB", (24, 24)).save(tmp_path / "a.jpg")
    write_split_file(tmp_path / "s.csv", [SplitRow("a.jpg", 0, 0)], "image")
    for train in (False, True):
        with pytest.raises(ValueError, match="num_spatial_crops=4; choose one of"):
            ImageDataset(tmp_path / "s.csv", tmp_path, train=train, crop_size=16, num_spatial_crops=4)
