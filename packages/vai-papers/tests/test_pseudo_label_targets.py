"""Pseudo-label target rules: the threshold, mask and ideal (twin-class) targets, and video_id_to_label
mappings feeding vai-data's datasets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vai_data import FeatureDataset, VideoClipDataset, make_synthetic_dataset, read_split_file
from vai_papers.verb_ambiguity import (
    ideal_targets,
    labels_for,
    mask_targets,
    pseudo_label_targets,
    pseudo_multilabel,
    pseudo_video_id_to_label,
    to_video_id_to_label,
)
from vai_papers_test_pseudo_labels import _separated_features


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
