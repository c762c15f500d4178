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
