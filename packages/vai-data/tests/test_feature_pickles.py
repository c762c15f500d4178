"""Upstream feature pickles (``extract_features`` saved with ``pickle.HIGHEST_PROTOCOL``): every protocol and
array layout loads through the restricted unpickler, and the per-clip view indices reach the samples."""

import pickle
import pickletools
import warnings

import numpy as np
import pytest
import torch
from vai_data import FeatureDataset

PROTOCOLS = sorted({2, 4, 5, pickle.HIGHEST_PROTOCOL})


def _layout(arr: np.ndarray, layout: str) -> np.ndarray:
    """``arr`` (N, D) as a C-contiguous, Fortran-ordered or non-contiguous (strided view) array."""
    if layout == "fortran":
        return np.asfortranarray(arr)
    if layout == "strided":
        wide = np.repeat(arr, 2, axis=1)
        wide[:, 1::2] = 0
        view = wide[:, ::2]
        assert not view.flags.c_contiguous and not view.flags.f_contiguous
        return view
    return np.ascontiguousarray(arr)


def _upstream_dict(feats: np.ndarray, n: int) -> dict:
    """What upstream's ``extract_features`` pickles: concatenated per-batch arrays."""
    return {
        "video_ids": np.arange(10, 10 + n, dtype=np.int64),
        "labels": np.arange(n, dtype=np.int64) % 3,
        "clip_features": feats,
        "spatial_indices": np.arange(n, dtype=np.int64) % 3,
        "temporal_indices": np.arange(n, dtype=np.int64) // 3,
    }


def _save(path, obj, protocol: int) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int64])
@pytest.mark.parametrize("layout", ["contiguous", "fortran", "strided"])
def test_upstream_feature_pickle_loads_with_any_protocol_dtype_and_layout(tmp_path, protocol, dtype, layout):
    feats = _layout(np.arange(6 * 4).reshape(6, 4).astype(dtype), layout)
    path = tmp_path / "features_epoch_0003_val_multicrop.pkl"
    _save(path, _upstream_dict(feats, 6), protocol)
    ds = FeatureDataset.from_file(path)
    assert len(ds) == 6 and ds[5]["video_id"] == 15 and ds[5]["label"] == 2
    assert torch.equal(ds.features, torch.from_numpy(np.asarray(feats, dtype=np.float32)))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_feature_tuple_of_heads_and_numpy_scalars_load(tmp_path, protocol):
    feats = np.ones((2, 3), np.float32)
    path = tmp_path / "f.pkl"
    d = {"video_ids": [np.int64(4), np.int64(5)], "labels": [0, 1], "clip_features": (feats, feats * 2)}
    _save(path, d, protocol)
    ds = FeatureDataset.from_pickle(path)
    assert ds.video_ids == [4, 5] and torch.equal(ds.features, torch.from_numpy(feats))


@pytest.mark.parametrize("protocol", [2, 5])
def test_numpy1_pickle_names_load_without_deprecation_warnings(tmp_path, protocol):
    """Pickles saved under numpy 1.x name ``numpy.core.*``; numpy 2 renamed it ``numpy._core``."""
    feats = np.arange(8, dtype=np.float32).reshape(2, 4)
    data = pickle.dumps(_upstream_dict(feats, 2), protocol)
    if b"numpy._core" in data:  # saved under numpy 2: rename as numpy 1.x would have written it
        data = data.replace(b"\x13numpy._core.numeric", b"\x12numpy.core.numeric")
        data = data.replace(b"\x15numpy._core.multiarray", b"\x14numpy.core.multiarray")
        data = data.replace(b"numpy._core.", b"numpy.core.")  # (protocol 2 names them as text lines)
        data = pickletools.optimize(data)  # (re-frames the renamed protocol-5 stream)
    assert b"numpy._core" not in data and b"numpy.core" in data
    (tmp_path / "old.pkl").write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = FeatureDataset.from_pickle(tmp_path / "old.pkl")
    assert torch.equal(ds.features, torch.from_numpy(feats))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_feature_pickles_naming_other_callables_are_still_refused(tmp_path, protocol):
    class Evil:
        def __reduce__(self):
            return (np.load, ("/etc/passwd",))

    path = tmp_path / "evil.pkl"
    _save(path, {"video_ids": [0], "labels": [0], "clip_features": Evil()}, protocol)
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to unpickle numpy\..*load"):
        FeatureDataset.from_pickle(path)


def test_view_indices_from_upstream_pickle_reach_the_samples(tmp_path):
    feats = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    path = tmp_path / "f.pkl"
    _save(path, _upstream_dict(feats, 6), pickle.HIGHEST_PROTOCOL)
    ds = FeatureDataset.from_pickle(path)
    got = [(ds[i]["spatial_idx"], ds[i]["temporal_idx"]) for i in range(6)]
    assert got == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]
    assert all(type(v) is int for pair in got for v in pair)


def test_view_indices_are_zero_when_absent(tmp_path):
    path = tmp_path / "f.pkl"
    d = _upstream_dict(np.zeros((3, 2), np.float32), 3)
    del d["spatial_indices"], d["temporal_indices"]
    _save(path, d, pickle.HIGHEST_PROTOCOL)
    s = FeatureDataset.from_pickle(path)[2]
    assert (s["spatial_idx"], s["temporal_idx"]) == (0, 0)
    s = FeatureDataset([1], [0], np.zeros((1, 2)), temporal_indices=[4])[0]
    assert (s["spatial_idx"], s["temporal_idx"]) == (0, 4)


@pytest.mark.parametrize(
    "key,value,match",
    [
        (
            "spatial_indices",
            np.zeros(5, np.int64),
            r"'spatial_indices' has 5 values but there are 6 feature rows",
        ),
        ("temporal_indices", np.zeros(7, np.int64), r"'temporal_indices' has 7 values but there are 6"),
        ("temporal_indices", np.zeros((6, 2), np.int64), r"'temporal_indices' has shape \(6, 2\)"),
        ("spatial_indices", np.zeros(6, np.float32), r"'spatial_indices' holds float32 values"),
    ],
)
def test_view_indices_that_do_not_fit_name_the_file_and_key(tmp_path, key, value, match):
    path = tmp_path / "bad_indices.pkl"
    d = _upstream_dict(np.zeros((6, 2), np.float32), 6)
    d[key] = value
    _save(path, d, pickle.HIGHEST_PROTOCOL)
    with pytest.raises(ValueError, match=rf"bad_indices\.pkl: {match}") as err:
        FeatureDataset.from_pickle(path)
    assert "\n" not in str(err.value)
