"""kNN pseudo-labels: neighbours vs a brute-force reference, target rules, caching, video_id_to_label and
the end-to-end epoch_start_script."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from vai_data import FeatureDataset, VideoClipDataset, make_synthetic_dataset, read_split_file
from vai_papers.verb_ambiguity import (
    PseudoLabelRefresher,
    default_num_neighbours,
    default_threshold,
    ideal_targets,
    labels_for,
    make_epoch_start_script,
    mask_targets,
    nearest_neighbours,
    neighbour_soft_labels,
    pseudo_label_targets,
    pseudo_multilabel,
    pseudo_video_id_to_label,
    to_video_id_to_label,
)
from vai_papers.verb_ambiguity import pseudo_labels as pl
from vai_train.config.experiment import default_unpack


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


def test_threshold_is_strict_and_ground_truth_is_always_positive():
    soft = torch.tensor([[0.0, 0.1, 0.2, 0.7], [0.5, 0.5, 0.0, 0.0], [0.05, 0.0, 0.95, 0.0]])
    labels = torch.tensor([0, 1, 3])
    multi = pseudo_multilabel(soft, labels, threshold=0.1)
    # 0.1 is not above 0.1; GT 0 of row 0 is positive although no neighbour has it
    assert multi.tolist() == [[1, 0, 1, 1], [1, 1, 0, 0], [0, 0, 1, 1]]
    assert multi.dtype == torch.float32
    mask = mask_targets(soft, labels, threshold=0.1)
    assert mask.tolist() == [[1, 0, -1, -1], [-1, 1, 0, 0], [0, 0, -1, 1]]
    assert torch.equal(pseudo_label_targets(soft, labels, "pseudo_single_binary_ce", 0.1), multi)
    assert torch.equal(pseudo_label_targets(soft, labels, "mask_binary_ce", 0.1), mask)
    assert pseudo_multilabel(soft, labels, threshold=1.0).tolist() == [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 0, 1],
    ]
    with pytest.raises(ValueError, match="does not train on pseudo-labels"):
        pseudo_label_targets(soft, labels, "assume_negative")
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        pseudo_multilabel(soft, labels, threshold=-0.1)


def test_ideal_targets_use_the_twin_class():
    labels = [0, 51, 10, 101]
    mask = ideal_targets(labels, "mask_binary_ce")
    assert mask.shape == (4, 102)
    for row, (gt, twin) in zip(mask, [(0, 51), (51, 0), (10, 61), (101, 50)], strict=True):
        assert row[gt] == 1 and row[twin] == -1 and int((row != 0).sum()) == 2
    multi = ideal_targets(labels, "ideal_pseudo_single_binary_ce")
    assert multi[1].nonzero().flatten().tolist() == [0, 51]
    three = ideal_targets([9], "pseudo_single_binary_ce", num_base_classes=8, copies=3)
    assert three[0].nonzero().flatten().tolist() == [1, 9, 17]
    with pytest.raises(ValueError, match="label 102 is outside num_classes=102"):
        ideal_targets([102])


def test_ideal_targets_follow_the_confusing_split_numbering(tmp_path):
    """vai-data's Confusing-HMDB generator (--confusion 2) on tiny lists of 2 classes: the ideal target
    of a train label holds exactly the classes of that video class's multi-label test rows."""
    from vai_data import encode_jpeg
    from vai_data.splits import hmdb51_splits

    lists, frames = tmp_path / "lists", tmp_path / "frames"
    lists.mkdir()
    clips = {"brush_hair": ["b1", "b2", "b3", "b4"], "cartwheel": ["c1", "c2", "c3", "c4"]}
    jpeg = encode_jpeg(np.zeros((8, 8, 3), dtype=np.uint8))
    for cls, names in clips.items():
        for k in (1, 2, 3):  # first three clips train, the last one test
            (lists / f"{cls}_test_split{k}.txt").write_text(
                "".join(f"{n}.avi {1 if i < 3 else 2} \n" for i, n in enumerate(names))
            )
        for n in names:
            (frames / cls / n).mkdir(parents=True)
            for f in range(2):
                (frames / cls / n / f"{f:05d}.jpg").write_bytes(jpeg)
    written = hmdb51_splits(lists, tmp_path / "out", "frames", [1], frames_root=str(frames), confusion=2)
    train, test = read_split_file(written["train1"]), read_split_file(written["test1"])
    assert {r.label for r in train.rows} & {2, 3}  # some train videos carry the twin label c + 2
    test_classes = {r.path.split("/")[0]: set(r.label) for r in test.rows}
    targets = ideal_targets([r.label for r in train.rows], "pseudo_single_binary_ce", num_base_classes=2)
    for row, target in zip(train.rows, targets, strict=True):
        assert set(target.nonzero().flatten().tolist()) == test_classes[row.path.split("/")[0]]
    masked = ideal_targets([r.label for r in train.rows], "mask_binary_ce", num_base_classes=2)
    assert all(
        int(t[r.label]) == 1 and int((t == -1).sum()) == 1 for r, t in zip(train.rows, masked, strict=True)
    )


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


def test_video_id_to_label_and_per_video_averaging():
    feats = np.array([[0.0, 0], [0, 0.2], [5, 5], [5, 5.2], [10, 0], [10, 0.2], [0, 0.1]])
    vids = [30, 30, 10, 10, 20, 20, 40]  # three videos of two clips, one of one
    labels = [0, 0, 1, 1, 2, 2, 0]
    mapping, details = pseudo_video_id_to_label(vids, feats, labels, "mask_binary_ce", num_classes=3, k=2)
    assert sorted(mapping) == [10, 20, 30, 40] and details["video_ids"].tolist() == [10, 20, 30, 40]
    # video 30's mean (0, 0.1) equals video 40's feature: they are each other's nearest
    assert details["neighbours"][2, 0] == 3 and details["neighbours"][3, 0] == 2
    assert all(v.dtype == np.float32 and v.shape == (3,) for v in mapping.values())
    # 30 and 40: each other (class 0) and video 10 (class 1, the nearer of the others) -> class 1 masked
    assert mapping[30].tolist() == [1, -1, 0] and mapping[40].tolist() == [1, -1, 0]
    assert not any(np.signbit(v[v == 0]).any() for v in mapping.values())  # no -0.0
    with pytest.raises(ValueError, match="clips of video_id 30 have different labels"):
        pseudo_video_id_to_label(vids, feats, [0, 1, 1, 1, 2, 2, 0], k=2)
    with pytest.raises(ValueError, match="video_id 5 appears twice with different label vectors"):
        to_video_id_to_label([5, 5], [[1, 0], [0, 1]])
    with pytest.raises(KeyError, match=r"no label for video ids \[99\]"):
        labels_for([10, 99], mapping)


def _separated_features(labels, dim=4, seed=0):
    """Features near one of a few centres per class, so kNN finds same-class and 'twin' neighbours."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(labels) + 1, dim)) * 5
    return (centres[np.asarray(labels)] + rng.normal(size=(len(labels), dim))).astype(np.float32)


def test_video_id_to_label_feeds_vai_data_datasets(tmp_path):
    synth = make_synthetic_dataset(
        tmp_path / "synth", num_videos=10, num_frames=4, size=(16, 16), fmt="frames"
    )
    split = read_split_file(synth.splits["train_frames"])
    vids = [r.video_id for r in split.rows]
    labels = [r.label for r in split.rows]
    feats = _separated_features(labels)
    mapping, details = pseudo_video_id_to_label(
        vids, feats, labels, "mask_binary_ce", num_classes=synth.num_classes, k=3
    )
    ds = VideoClipDataset(
        split,
        data_root=synth.root,
        train=False,
        num_frames=2,
        crop_size=16,
        test_scale=16,
        video_id_to_label=mapping,
    )
    assert ds.num_classes == synth.num_classes
    for i in range(len(ds)):
        sample = ds[i]
        expected = torch.from_numpy(mapping[sample["video_id"]])
        assert torch.equal(sample["label"], expected)
        assert sample["label"][labels[vids.index(sample["video_id"])]] == 1
    # new pseudo-labels assigned in place (what the epoch hook does)
    multi = to_video_id_to_label(
        details["video_ids"].tolist(), pseudo_multilabel(details["soft"], details["labels"], 0.1)
    )
    ds.video_id_to_label = multi
    assert torch.equal(ds[0]["label"], torch.from_numpy(multi[ds[0]["video_id"]]))
    assert float(ds[0]["label"].min()) >= 0
    # FeatureDataset has no video_id_to_label: its label rows come from labels_for
    fds = FeatureDataset(vids, labels_for(vids, mapping), feats)
    assert fds.multilabel and fds.num_classes == synth.num_classes
    for i, vid in enumerate(vids):
        assert torch.equal(fds[i]["label"], torch.from_numpy(mapping[vid]))


# ----------------------------------------------------------------------------- epoch_start_script
class _TinyModel(nn.Module):
    """Feature = a fixed linear map of the input; a classifier head on top."""

    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.proj = nn.Linear(dim, dim, bias=False)
        nn.init.eye_(self.proj.weight)
        self.head = nn.Linear(dim, num_classes)

    def forward_features(self, x):
        return self.proj(x.flatten(1))

    def forward(self, x):
        return self.head(self.forward_features(x))


def _kit(model, train_ds, batch_size=4):
    sampler = DistributedSampler(train_ds, num_replicas=1, rank=0, shuffle=True, seed=0)
    return {
        "model": model,
        "train_loader": DataLoader(train_ds, batch_size=batch_size, sampler=sampler),
        "val_loader": DataLoader(train_ds, batch_size=3),
        "data_unpack_funcs": {"val": default_unpack},
        "input_reshape_funcs": {"val": lambda x: x},
    }


def test_epoch_start_script_rebuilds_the_train_loader_on_schedule(tmp_path):
    labels = [0, 1, 2, 3] * 4
    vids = list(range(100, 116))
    feats = _separated_features([lab % 2 for lab in labels])  # classes 0/2 and 1/3 look alike
    model = _TinyModel(feats.shape[1], 4)
    calls = []

    def get_torch_dataset(split):
        calls.append(split)
        return FeatureDataset(vids, labels, feats)

    def rebuild(mapping):
        return FeatureDataset(vids, labels_for(vids, mapping), feats)

    hook = make_epoch_start_script(
        get_torch_dataset,
        loss_type="mask_binary_ce",
        num_classes=4,
        k=4,
        threshold=0.2,
        period=3,
        rebuild_train_dataset=rebuild,
    )
    kit = _kit(model, FeatureDataset(vids, labels, feats))
    exp = SimpleNamespace(run_dir=SimpleNamespace(predictions=tmp_path / "predictions"))
    args = SimpleNamespace(seed=0, no_progress=True)
    ret = hook(1, exp, args, 0, 1, kit)
    assert set(ret) == {"train_loader"} and calls == ["traindata_testmode"]
    new_loader = ret["train_loader"]
    assert isinstance(new_loader.sampler, DistributedSampler) and new_loader.batch_size == 4
    expected, _ = pseudo_video_id_to_label(
        vids, feats, labels, "mask_binary_ce", num_classes=4, k=4, threshold=0.2
    )
    for sample in new_loader.dataset:
        assert torch.equal(sample["label"], torch.from_numpy(expected[sample["video_id"]]))
    assert any((v == -1).any() for v in expected.values())  # the look-alike class is masked somewhere
    assert (tmp_path / "predictions" / "pseudo_labels" / "epoch_0001.npz").is_file()
    assert hook(2, exp, args, 0, 1, kit) is None and hook(3, exp, args, 0, 1, kit) is None
    # epoch 4 = 1 + period: new features from the (changed) model
    with torch.no_grad():
        model.proj.weight.mul_(0.0)  # every feature 0: all distances tie, lowest indices win
    ret = hook(4, exp, args, 0, 1, kit)
    assert (tmp_path / "predictions" / "pseudo_labels" / "epoch_0004.npz").is_file()
    after, _ = pseudo_video_id_to_label(vids, np.zeros_like(feats), labels, num_classes=4, k=4, threshold=0.2)
    assert all(np.array_equal(hook.video_id_to_label[v], after[v]) for v in vids)
    assert calls == ["traindata_testmode"]  # the feature loader is built once

    # a resumed process at epoch 5 reads epoch 4's refresh back instead of recomputing it
    resumed = PseudoLabelRefresher(
        lambda split: pytest.fail("extracted again"),
        num_classes=4,
        k=4,
        threshold=0.2,
        period=3,
        rebuild_train_dataset=rebuild,
    )
    resumed(5, exp, args, 0, 1, kit)
    assert all(np.array_equal(resumed.video_id_to_label[v], after[v]) for v in vids)


def _refresh_setup(period=3):
    """A model, its kit and a hook factory over 16 feature rows (classes 0/2 and 1/3 look alike)."""
    labels = [0, 1, 2, 3] * 4
    vids = list(range(100, 116))
    feats = _separated_features([lab % 2 for lab in labels])
    model = _TinyModel(feats.shape[1], 4)
    kit = _kit(model, FeatureDataset(vids, labels, feats))
    computed = []  # the epochs at which pseudo-labels were computed (not read back)

    class Counting(PseudoLabelRefresher):
        def _compute(self, epoch, *rest):
            computed.append(epoch)
            return super()._compute(epoch, *rest)

    def rebuild(mapping):
        return FeatureDataset(vids, labels_for(vids, mapping), feats)

    def make_hook(**options):
        settings = {"num_classes": 4, "k": 4, "threshold": 0.2, "period": period} | options
        return Counting(
            lambda split: FeatureDataset(vids, labels, feats), rebuild_train_dataset=rebuild, **settings
        )

    return SimpleNamespace(model=model, kit=kit, computed=computed, make_hook=make_hook)


def _run_dir(root, version, sub=None):
    from vai_train.rundir import RunDir

    exp_dir = root / "ds" / "model" / "exp"
    return RunDir((exp_dir / sub if sub else exp_dir) / f"version_{version:03d}", version)


def _mapping_equal(a, b):
    return sorted(a) == sorted(b) and all(np.array_equal(a[v], b[v]) for v in a)


def test_a_refresh_is_saved_under_the_epoch_that_computed_it(tmp_path):
    """A process resumed at epoch 5 (period 3: epoch 4's refresh in force) with no saved refresh computes
    one from its model: it is saved as epoch_0005, not as epoch 4's, and a later resume reads it back."""
    t = _refresh_setup()
    exp = SimpleNamespace(run_dir=_run_dir(tmp_path, 0), extra={})
    args = SimpleNamespace(seed=0, no_progress=True)
    folder = exp.run_dir.predictions / "pseudo_labels"
    hook = t.make_hook()
    hook(5, exp, args, 0, 1, t.kit)
    assert sorted(p.name for p in folder.iterdir()) == ["epoch_0005.npz"]
    computed = hook.video_id_to_label
    # a process resumed at epoch 6 reads epoch 5's file (4 <= 5 <= 6) instead of computing again
    with torch.no_grad():
        t.model.proj.weight.mul_(0.0)  # a different model would give different labels
    again = t.make_hook()
    again(6, exp, args, 0, 1, t.kit)
    assert t.computed == [5] and _mapping_equal(again.video_id_to_label, computed)
    # epoch 7 is a refresh epoch: files of earlier refreshes are not in force any more
    later = t.make_hook()
    later(7, exp, args, 0, 1, t.kit)
    assert t.computed == [5, 7]
    assert sorted(p.name for p in folder.iterdir()) == ["epoch_0005.npz", "epoch_0007.npz"]
    assert not _mapping_equal(later.video_id_to_label, computed)


def test_a_continued_run_reads_the_refresh_of_its_source_version(tmp_path, caplog):
    """CONTRACT B: a -l N run (a new version from epoch N of another) gets the source RunDir as
    exp.extra["source_run_dir"]; the source's latest refresh in force is read and copied, not recomputed."""
    t = _refresh_setup()
    args = SimpleNamespace(seed=0, no_progress=True)
    source = SimpleNamespace(run_dir=_run_dir(tmp_path, 0), extra={"source_run_dir": None})
    first = t.make_hook()
    first(1, source, args, 0, 1, t.kit)
    at1 = first.video_id_to_label
    with torch.no_grad():
        t.model.proj.weight.copy_(torch.diag(torch.tensor([1.0, 0.0, 0.0, 0.0])))  # other neighbours
    first(4, source, args, 0, 1, t.kit)
    at4 = first.video_id_to_label
    assert not _mapping_equal(at1, at4)
    with torch.no_grad():
        t.model.proj.weight.mul_(0.0)
    assert t.computed == [1, 4]
    src_dir = source.run_dir.predictions / "pseudo_labels"
    assert sorted(p.name for p in src_dir.iterdir()) == ["epoch_0001.npz", "epoch_0004.npz"]

    # -l 5: version 1 starts at epoch 6, epoch 4's refresh (the source's) is in force
    branch = SimpleNamespace(run_dir=_run_dir(tmp_path, 1), extra={"source_run_dir": source.run_dir})
    hook = t.make_hook()
    with caplog.at_level(logging.INFO):
        hook(6, branch, args, 0, 1, t.kit)
    assert t.computed == [1, 4] and _mapping_equal(hook.video_id_to_label, at4)
    copied = branch.run_dir.predictions / "pseudo_labels" / "epoch_0004.npz"
    assert copied.read_bytes() == (src_dir / "epoch_0004.npz").read_bytes()
    assert "computed at epoch 4 read from" in caplog.text
    # the latest file in range wins: a source resumed at epoch 6 had computed epoch_0006 there
    (src_dir / "epoch_0004.npz").rename(src_dir / "epoch_0006.npz")
    (src_dir / "epoch_0001.npz").rename(src_dir / "epoch_0005.npz")
    other = SimpleNamespace(run_dir=_run_dir(tmp_path, 2), extra={"source_run_dir": source.run_dir})
    hook = t.make_hook()
    hook(6, other, args, 0, 1, t.kit)
    assert _mapping_equal(hook.video_id_to_label, at4)
    assert [p.name for p in (other.run_dir.predictions / "pseudo_labels").iterdir()] == ["epoch_0006.npz"]
    # the run's own folder comes first; files past the epoch or before the refresh are not in force
    own_first = t.make_hook()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        own_first(6, branch, args, 0, 1, t.kit)  # version 1 holds epoch_0004 (the source's 6 is not read)
    assert _mapping_equal(own_first.video_id_to_label, at4) and f"read from {copied}" in caplog.text
    (src_dir / "epoch_0006.npz").rename(src_dir / "epoch_0009.npz")
    (src_dir / "epoch_0005.npz").rename(src_dir / "epoch_0003.npz")
    fresh = SimpleNamespace(run_dir=_run_dir(tmp_path, 3), extra={"source_run_dir": source.run_dir})
    t.make_hook()(6, fresh, args, 0, 1, t.kit)  # nothing in 4..6: computed and saved as epoch 6
    assert t.computed == [1, 4, 6]
    assert [p.name for p in (fresh.run_dir.predictions / "pseudo_labels").iterdir()] == ["epoch_0006.npz"]
    # a source refresh made with other settings is not used
    (src_dir / "epoch_0009.npz").rename(src_dir / "epoch_0005.npz")
    other_k = SimpleNamespace(run_dir=_run_dir(tmp_path, 4), extra={"source_run_dir": source.run_dir})
    t.make_hook(k=3)(6, other_k, args, 0, 1, t.kit)
    assert t.computed == [1, 4, 6, 6]
    # only the epoch a continued run starts at reads the source; its later refreshes are its own
    (src_dir / "epoch_0005.npz").rename(src_dir / "epoch_0004.npz")
    later = SimpleNamespace(run_dir=_run_dir(tmp_path, 5), extra={"source_run_dir": source.run_dir})
    hook = t.make_hook()
    hook(3, later, args, 0, 1, t.kit)  # -l 2: epoch 1's refresh in force, the source's epoch_0003 read
    assert t.computed == [1, 4, 6, 6] and _mapping_equal(hook.video_id_to_label, at1)
    hook(4, later, args, 0, 1, t.kit)  # from this run's epoch-3 weights, not the source's epoch_0004
    assert t.computed == [1, 4, 6, 6, 4]


@pytest.mark.parametrize("where", ["run", "subfolder", "args_root", "env_dir", "off"])
def test_the_neighbour_cache_is_under_the_runs_experiment_root(tmp_path, monkeypatch, where):
    """With $VAI_USE_NEIGHBOUR_CACHE on, the hook caches in <the run's -R root>/neighbour_cache (not
    $VAI_EXPERIMENT_ROOT's), unless $VAI_NEIGHBOUR_CACHE_DIR names a folder."""
    t = _refresh_setup()
    root = tmp_path / "runs"
    monkeypatch.setenv("VAI_EXPERIMENT_ROOT", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("VAI_USE_NEIGHBOUR_CACHE", "0" if where == "off" else "1")
    monkeypatch.delenv("VAI_NEIGHBOUR_CACHE_DIR", raising=False)
    sub = "sub" if where == "subfolder" else None
    run_dir = _run_dir(root, 0, sub)
    args = SimpleNamespace(seed=0, no_progress=True, subfolder=sub)
    if where == "args_root":  # vai-train's -R, whatever the version folder's place
        run_dir = SimpleNamespace(path=tmp_path / "x" / "version_000", predictions=tmp_path / "x")
        args.experiment_root = str(root)
    if where == "env_dir":
        monkeypatch.setenv("VAI_NEIGHBOUR_CACHE_DIR", str(tmp_path / "cache"))
    t.make_hook(save=False)(1, SimpleNamespace(run_dir=run_dir, extra={}), args, 0, 1, t.kit)
    assert not (tmp_path / "elsewhere").exists()
    cached = list(tmp_path.rglob("neighbours_*.npy"))
    if where == "off":
        assert cached == []
        return
    expected = tmp_path / "cache" if where == "env_dir" else root / "neighbour_cache"
    assert len(cached) == 1 and cached[0].parent == expected


def test_epoch_start_script_sets_video_id_to_label_in_place(tmp_path):
    synth = make_synthetic_dataset(
        tmp_path / "synth", num_videos=10, num_frames=4, size=(16, 16), fmt="frames"
    )
    path = synth.splits["train_frames"]

    def get_torch_dataset(split):
        return VideoClipDataset(
            path,
            data_root=synth.root,
            train=split == "train",
            num_frames=2,
            crop_size=16,
            test_scale=16,
            scale_jitter=(16, 16),
        )

    train_ds = get_torch_dataset("train")
    model = _TinyModel(3 * 2 * 16 * 16, synth.num_classes)
    kit = _kit(model, train_ds)
    hook = PseudoLabelRefresher(
        get_torch_dataset, loss_type="pseudo_single_binary_ce", num_classes=synth.num_classes, k=2, save=False
    )
    assert hook(1, SimpleNamespace(run_dir=None), SimpleNamespace(), 0, 1, kit) is None
    assert train_ds.video_id_to_label is hook.video_id_to_label
    split = read_split_file(path)
    for i in range(len(train_ds)):
        sample = train_ds[i]
        label = split.rows[i].label
        assert sample["label"].shape == (synth.num_classes,) and sample["label"][label] == 1
        assert torch.equal(sample["label"], torch.from_numpy(hook.video_id_to_label[sample["video_id"]]))


def test_epoch_start_script_bad_settings():
    with pytest.raises(ValueError, match="unknown loss_type 'nope'"):
        PseudoLabelRefresher(lambda s: None, loss_type="nope")
    with pytest.raises(ValueError, match="period must be a positive number of epochs"):
        PseudoLabelRefresher(lambda s: None, period=0)
    for bad in (True, 2.0, "3"):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            PseudoLabelRefresher(lambda s: None, k=bad)
        with pytest.raises(ValueError, match="period must be a positive number of epochs"):
            PseudoLabelRefresher(lambda s: None, period=bad)
    # numpy integers are integers, as for nearest_neighbours and ProSelfLC
    hook = PseudoLabelRefresher(lambda s: None, k=np.int64(15), period=np.int32(5))
    assert (hook.k, hook.period) == (15, 5) and type(hook.k) is int and type(hook.period) is int
    feats = np.eye(4, dtype=np.float32)
    ds = FeatureDataset([1, 2, 3, 4], [0, 1, 0, 1], feats)
    hook = PseudoLabelRefresher(lambda s: ds, k=1, save=False)
    with pytest.raises(ValueError, match="has no video_id_to_label to set; pass rebuild_train_dataset"):
        hook(1, None, SimpleNamespace(), 0, 1, _kit(_TinyModel(4, 2), ds))
    no_features = nn.Linear(4, 2)
    with pytest.raises(ValueError, match="has no forward_features"):
        PseudoLabelRefresher(lambda s: ds, k=1, save=False)(
            1, None, SimpleNamespace(), 0, 1, _kit(no_features, ds)
        )


# ----------------------------------------------------------------------------- through vai-train
POINTS_DATASET = """
import numpy as np

num_classes = 4
task = "single_label"


def points():
    rng = np.random.default_rng(0)
    labels = np.arange(24) % num_classes
    centres = rng.normal(size=(2, 6)) * 4  # classes 0/2 and 1/3 look alike
    return np.arange(100, 124), labels, (centres[labels % 2] + rng.normal(size=(24, 6))).astype("float32")
"""
POINTS_MODEL = """
from torch import nn


class Net(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.body = nn.Linear(6, 6)
        self.head = nn.Linear(6, num_classes)

    def forward_features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def load_model(num_classes, input_frame_length, **kw):
    return Net(num_classes)
"""
POINTS_EXP = """
import torch
from vai_data import FeatureDataset
from vai_papers.verb_ambiguity import criterion_for_split, labels_for, make_epoch_start_script

batch_size = 8
num_epochs = 3
num_workers = 0
metrics = {"train": []}
_vids, _labels, _feats = dataset_cfg.points()


def get_torch_dataset(split):
    return FeatureDataset(_vids, _labels, _feats)


def optimiser(params):
    return torch.optim.SGD(params, lr=0.1)


def get_criterion(split):
    return criterion_for_split("mask_binary_ce", split, 4)


def _rebuild(mapping):
    return FeatureDataset(_vids, labels_for(_vids, mapping), _feats)


epoch_start_script = make_epoch_start_script(
    get_torch_dataset, loss_type="mask_binary_ce", num_classes=4, k=3, period=2, rebuild_train_dataset=_rebuild
)
"""


def test_a_continued_vai_train_run_copies_its_sources_refresh(tmp_path, monkeypatch):
    """-l N through vai-train (CONTRACT B): the new version reads the refresh in force from the version it
    continues (file N+1 or the refresh epoch before it) instead of extracting features again."""
    from vai_train import run_train

    root = tmp_path / "configs"
    for rel, text in (
        ("dataset_configs/points.py", POINTS_DATASET),
        ("model_configs/net.py", POINTS_MODEL),
        ("exp_configs/points/net-pseudo.py", POINTS_EXP),
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    args = [
        "-D",
        "points",
        "-M",
        "net",
        "-E",
        "pseudo",
        "-R",
        str(tmp_path / "exp"),
        "--config-root",
        str(root),
    ]
    args += ["-w", "0", "--no-progress", "--plot-period", "-1", "--device", "cpu"]
    first = run_train(args + ["-s", "all"])
    src = first.run_dir / "predictions" / "pseudo_labels"
    assert sorted(p.name for p in src.iterdir()) == ["epoch_0001.npz", "epoch_0003.npz"]

    computed = []
    original = PseudoLabelRefresher._compute

    def compute(self, epoch, *rest):
        computed.append(epoch)
        return original(self, epoch, *rest)

    monkeypatch.setattr(PseudoLabelRefresher, "_compute", compute)
    # -l 2: starts at epoch 3, a refresh epoch: the source's epoch_0003 came from the same epoch-2 weights
    # -l 1: starts at epoch 2 with epoch 1's refresh; at epoch 3 it computes its own (its epoch-2 weights)
    for load, copied, own_epochs in (("2", "epoch_0003.npz", []), ("1", "epoch_0001.npz", [3])):
        computed.clear()
        branch = run_train(args + ["-l", load, "-v", "0", "-e", "3"])  # both from version_000
        assert branch.run_dir != first.run_dir and branch.last_epoch == 3
        assert computed == own_epochs
        own = branch.run_dir / "predictions" / "pseudo_labels"
        assert sorted(p.name for p in own.iterdir()) == sorted(
            {copied} | {f"epoch_{e:04d}.npz" for e in own_epochs}
        )
        assert (own / copied).read_bytes() == (src / copied).read_bytes()


def test_clone_loader_keeps_the_sampler_kind_and_refuses_others():
    from torch.utils.data import DataLoader, RandomSampler, TensorDataset, WeightedRandomSampler
    from vai_papers.verb_ambiguity import clone_loader

    old_ds, new_ds = TensorDataset(torch.arange(10)), TensorDataset(torch.arange(10) + 100)
    old = DataLoader(old_ds, batch_size=4, sampler=RandomSampler(old_ds, replacement=True, num_samples=6))
    new = clone_loader(old, new_ds)
    assert isinstance(new.sampler, RandomSampler) and new.sampler.replacement and len(new.sampler) == 6
    assert sum(len(b[0]) for b in new) == 6 and all(int(x) >= 100 for b in new for x in b[0])
    weighted = DataLoader(old_ds, batch_size=4, sampler=WeightedRandomSampler([1.0] * 10, 10))
    with pytest.raises(ValueError, match="WeightedRandomSampler cannot be rebuilt") as e:
        clone_loader(weighted, new_ds)
    assert "\n" not in str(e.value)
