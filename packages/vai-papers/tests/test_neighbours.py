"""kNN for pseudo-labels: neighbours vs a brute-force reference (and scikit-learn), neighbour soft labels,
k and threshold from the environment, bad inputs, and the neighbour cache."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from vai_papers.verb_ambiguity import (
    default_num_neighbours,
    default_threshold,
    nearest_neighbours,
    neighbour_soft_labels,
    pseudo_multilabel,
)
from vai_papers.verb_ambiguity import pseudo_labels as pl


def brute_force(features: np.ndarray, k: int) -> np.ndarray:
    """Exact float64 distances, self excluded, ordered by (distance, index)."""
    x = features.astype(np.float64)
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def soft_reference(neigh: np.ndarray, labels: np.ndarray, c: int) -> np.ndarray:
    soft = np.zeros((len(neigh), c))
    for i, row in enumerate(neigh):
        for j in row:
            soft[i, labels[j]] += 1
    return soft / neigh.shape[1]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(37, 6)) * 3 + 10, rng.integers(0, 5, size=37)


@pytest.mark.parametrize("chunk_size", [1, 5, 36, 37, 100, None])
def test_neighbours_match_brute_force_across_chunk_boundaries(data, chunk_size):
    x, _ = data
    got = nearest_neighbours(x, 4, chunk_size=chunk_size, dtype=torch.float64)
    assert got.dtype == torch.long and got.shape == (37, 4)
    np.testing.assert_array_equal(got.numpy(), brute_force(x, 4))
    # float32 (what a GPU computes) on well-separated random data: the same neighbours
    np.testing.assert_array_equal(
        nearest_neighbours(x.astype(np.float32), 4, chunk_size=chunk_size), brute_force(x, 4)
    )


def test_self_is_excluded_even_with_exact_duplicates_and_ties_go_to_lower_index():
    # small integers: every distance is exact, so ties are real ties
    x = np.array([[0, 0], [0, 0], [0, 0], [3, 0], [0, 4], [3, 0]], dtype=np.float32)
    got = nearest_neighbours(x, 2, chunk_size=4).numpy()
    np.testing.assert_array_equal(got, brute_force(x, 2))
    assert got[0].tolist() == [1, 2] and got[1].tolist() == [0, 2] and got[3].tolist() == [5, 0]
    assert all(i not in row for i, row in enumerate(got))
    full = nearest_neighbours(x, 5).numpy()  # k = N - 1: everything but itself
    assert all(sorted(row) == [j for j in range(6) if j != i] for i, row in enumerate(full))


def test_neighbours_match_sklearn_kneighbors_without_query(data):
    neighbors = pytest.importorskip("sklearn.neighbors")
    x, _ = data
    ref = neighbors.NearestNeighbors(n_neighbors=5).fit(x).kneighbors(X=None, return_distance=False)
    np.testing.assert_array_equal(nearest_neighbours(x, 5, dtype=torch.float64).numpy(), ref)


def test_soft_labels_are_neighbour_label_fractions(data):
    x, y = data
    soft = neighbour_soft_labels(x, y, k=4, num_classes=6, chunk_size=8, dtype=torch.float64)
    assert soft.shape == (37, 6) and soft.dtype == torch.float32
    np.testing.assert_allclose(soft.numpy(), soft_reference(brute_force(x, 4), y, 6), atol=1e-7)
    np.testing.assert_allclose(soft.sum(1).numpy(), 1.0, atol=1e-6)
    assert torch.all(soft[:, 5] == 0)  # a class nobody has


def test_default_k_and_threshold_come_from_env(monkeypatch, data):
    x, y = data
    monkeypatch.delenv("VAI_NUM_NEIGHBOURS", raising=False)
    monkeypatch.delenv("VAI_PSEUDOLABEL_THR", raising=False)
    assert default_num_neighbours() == 15 and default_threshold() == 0.1
    monkeypatch.setenv("VAI_NUM_NEIGHBOURS", "3")
    monkeypatch.setenv("VAI_PSEUDOLABEL_THR", "0.5")
    soft = neighbour_soft_labels(x, y, dtype=torch.float64)
    np.testing.assert_allclose(soft.numpy(), soft_reference(brute_force(x, 3), y, 5), atol=1e-7)
    assert torch.equal(pseudo_multilabel(soft, y), pseudo_multilabel(soft, y, 0.5))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VAI_NUM_NEIGHBOURS", "abc"),
        ("VAI_NUM_NEIGHBOURS", "0"),
        ("VAI_NUM_NEIGHBOURS", "2.5"),
        ("VAI_PSEUDOLABEL_THR", "x"),
        ("VAI_PSEUDOLABEL_THR", "1.5"),
        ("VAI_PSEUDOLABEL_THR", "nan"),
        ("VAI_USE_NEIGHBOUR_CACHE", "maybe"),
    ],
)
def test_bad_env_values_name_the_variable(monkeypatch, data, name, value):
    x, y = data
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"^{name}=") as e:
        soft = neighbour_soft_labels(x, y)
        pseudo_multilabel(soft, y)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("features", "labels", "k", "match"),
    [
        (np.zeros((5, 3)), [0, 1, 0, 1, 0], 5, "k=5 neighbours .* need at least 6 samples, got 5"),
        (np.zeros((5, 3)), [0, 1, 0, 1, 0], 0, "k must be a positive integer"),
        (np.zeros((5, 3)), [0, 1, 0, 1], 2, "4 labels for 5 feature rows"),
        (np.zeros((5, 3)), np.zeros((5, 2), dtype=int), 2, "one integer class index per sample"),
        (np.zeros((5, 3)), [0.0, 1.0, 0.0, 1.0, 0.0], 2, "one integer class index per sample"),
        (np.zeros((5, 3)), [0, 1, -1, 1, 0], 2, "negative class index"),
        (np.zeros(5), [0, 1, 0, 1, 0], 2, r"non-empty \(N, D\) array"),
        (np.zeros((0, 3)), [], 2, r"non-empty \(N, D\) array"),
    ],
)
def test_bad_inputs_raise_one_line(features, labels, k, match):
    with pytest.raises(ValueError, match=match) as e:
        neighbour_soft_labels(features, labels, k=k)
    assert "\n" not in str(e.value)


def test_non_finite_features_name_the_row():
    x = np.zeros((6, 3))
    x[4, 1] = np.nan
    x[5, 0] = np.inf
    with pytest.raises(ValueError, match=r"features: row 4 holds NaN or inf values \(2 such rows\)"):
        nearest_neighbours(x, 2)
    with pytest.raises(ValueError, match="label 3 is outside num_classes=3"):
        neighbour_soft_labels(np.zeros((6, 3)), [0, 1, 2, 3, 0, 1], k=2, num_classes=3)


def test_cache_hit_returns_identical_results_without_recomputing(tmp_path, data, monkeypatch, caplog):
    x, y = data
    first = nearest_neighbours(x, 4, cache_dir=tmp_path)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npy" and "_k4_" in files[0].name

    def no_search(*a, **kw):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(pl, "_k_smallest", no_search)
    with caplog.at_level(logging.INFO, logger=pl.__name__):
        again = nearest_neighbours(x, 4, cache_dir=tmp_path)
    assert torch.equal(first, again) and "read from the cache" in caplog.text
    soft = neighbour_soft_labels(x, y, k=4, cache_dir=tmp_path)  # soft labels from cached neighbours
    np.testing.assert_allclose(soft.numpy(), soft_reference(first.numpy(), y, 5))
    with pytest.raises(AssertionError, match="recomputed"):  # other features or k: another key
        nearest_neighbours(x + 1e-3, 4, cache_dir=tmp_path)
    with pytest.raises(AssertionError, match="recomputed"):
        nearest_neighbours(x, 3, cache_dir=tmp_path)


def test_cache_from_env_and_a_corrupt_file_is_recomputed(tmp_path, data, monkeypatch, caplog):
    x, _ = data
    monkeypatch.setenv("VAI_USE_NEIGHBOUR_CACHE", "True")
    monkeypatch.setenv("VAI_NEIGHBOUR_CACHE_DIR", str(tmp_path / "cache"))
    first = nearest_neighbours(x, 3)
    (path,) = (tmp_path / "cache").iterdir()
    path.write_bytes(b"not an npy file")
    with caplog.at_level(logging.WARNING):
        again = nearest_neighbours(x, 3)
    assert torch.equal(first, again) and "unreadable" in caplog.text
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [path.name]  # rewritten, no temp files left
    assert np.array_equal(np.load(path), first.numpy())
    monkeypatch.setenv("VAI_USE_NEIGHBOUR_CACHE", "0")
    monkeypatch.setattr(pl, "save_cached", lambda *a: pytest.fail("cached although turned off"))
    nearest_neighbours(x, 3)
