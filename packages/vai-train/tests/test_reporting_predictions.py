"""Predictions files: npz round trip, atomic write, no pickles."""

import numpy as np
import pytest
import torch
from vai_train.reporting import load_predictions, predictions_filename, save_predictions


def test_round_trip_with_extra_arrays(tmp_path):
    probs = torch.rand(4, 3)
    path = save_predictions(
        tmp_path / "predictions" / predictions_filename(3, "val", "multicrop"),
        torch.arange(4),
        probs,
        torch.tensor([0, 2, 1, 1]),
        spatial_idx=np.array([0, 1, 2, 0]),
        features=torch.rand(4, 5, dtype=torch.bfloat16),
    )
    assert path.name == "epoch_0003_val_multicrop.npz"
    assert not list(path.parent.glob("*.tmp"))
    data = load_predictions(path)
    assert sorted(data) == ["features", "labels", "probs", "spatial_idx", "video_ids"]
    np.testing.assert_allclose(data["probs"], probs.numpy())
    assert data["labels"].tolist() == [0, 2, 1, 1] and data["features"].shape == (4, 5)


def test_suffix_added_and_feature_prefix(tmp_path):
    assert (
        predictions_filename(12, "train", "oneclip", prefix="features")
        == "features_epoch_0012_train_oneclip.npz"
    )
    path = save_predictions(tmp_path / "preds", [1, 2], np.zeros((2, 2)), np.zeros((2, 2)))
    assert path.suffix == ".npz" and path.exists()


def test_object_arrays_and_length_mismatch_rejected(tmp_path):
    with pytest.raises(TypeError, match="array 'meta' has dtype object"):
        save_predictions(
            tmp_path / "a.npz", [0], np.zeros((1, 2)), [0], meta=np.array([{"x": 1}], dtype=object)
        )
    with pytest.raises(ValueError, match="same length N"):
        save_predictions(tmp_path / "a.npz", [0, 1], np.zeros((3, 2)), [0, 1])


def test_load_refuses_pickles_and_foreign_files(tmp_path):
    evil = tmp_path / "evil.npz"
    np.savez(evil, video_ids=np.array([0]), probs=np.array([object()], dtype=object), labels=np.array([0]))
    with pytest.raises(ValueError, match="allow_pickle"):
        load_predictions(evil)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(2))
    with pytest.raises(ValueError, match="missing arrays"):
        load_predictions(other)
    with pytest.raises(FileNotFoundError, match="predictions file not found"):
        load_predictions(tmp_path / "none.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(other.read_bytes()[:40])
    with pytest.raises(ValueError, match=rf"^{truncated}: not a readable predictions file"):
        load_predictions(truncated)
    single = tmp_path / "single.npz"
    with open(single, "wb") as f:
        np.save(f, np.zeros(3))  # an .npy under an .npz name
    with pytest.raises(ValueError, match=rf"^{single}: not a readable predictions file: one .npy array"):
        load_predictions(single)
