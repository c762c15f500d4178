"""video_id_to_label: class indices, class-index tuples and upstream's label vectors (multi-hot, soft,
-1 masks), on single- and multi-label splits."""

import os

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from vai_data import SplitRow, VideoClipDataset, read_split_file, write_split_file

KW = dict(crop_size=16, scale_jitter=(20, 24), test_scale=20, num_frames=4)
# most cases override one video's label on purpose; the warning itself is tested below
pytestmark = pytest.mark.filterwarnings("ignore:video_id_to_label gives labels for:UserWarning")


def _single(synth_root):
    return os.path.join(synth_root, "splits", "train_frames.csv")


def _multi(synth_root, tmp_path):
    rows = read_split_file(_single(synth_root)).rows
    path = tmp_path / "multi.csv"
    write_split_file(
        path, [SplitRow(r.path, r.video_id, (r.label,), r.start, r.end) for r in rows], "frames", 8
    )
    return path


def test_class_indices_on_a_single_label_split_stay_class_indices(synth_root):
    rows = read_split_file(_single(synth_root)).rows
    vid = rows[0].video_id
    ds = VideoClipDataset(_single(synth_root), synth_root, train=False, video_id_to_label={vid: 5}, **KW)
    assert ds[0]["label"] == 5 and ds[1]["label"] == rows[1].label
    assert ds.num_classes == 8 and not ds.multilabel


def test_several_classes_on_a_single_label_split_make_every_label_a_vector(synth_root):
    rows = read_split_file(_single(synth_root)).rows
    ds = VideoClipDataset(
        _single(synth_root), synth_root, train=False, video_id_to_label={rows[0].video_id: (2, 5)}, **KW
    )
    assert ds[0]["label"].tolist() == [0, 0, 1, 0, 0, 1, 0, 0]  # no class dropped
    other = ds[1]["label"]
    assert other.dtype == torch.float32 and other.argmax() == rows[1].label and other.sum() == 1  # one-hot
    batch = next(iter(DataLoader(ds, batch_size=4, collate_fn=ds.collate_fn)))
    assert batch["label"].shape == (4, 8)


@pytest.mark.parametrize(
    "vector",
    [
        np.array([0, 0, 1, 0, 0, -1, 0, 0], dtype=float),  # GT plus a masked pseudo-positive
        [0.0, 0.0, 0.6, 0.0, 0.0, 0.4, 0.0, 0.0],  # a kNN soft label
        torch.tensor([0, 0, 1, 0, 0, 1, 0, 0.5]),
    ],
)
def test_label_vectors_are_the_targets_as_given(synth_root, tmp_path, vector):
    for split in (_single(synth_root), _multi(synth_root, tmp_path)):
        vid = read_split_file(split).rows[0].video_id
        ds = VideoClipDataset(split, synth_root, train=False, video_id_to_label={vid: vector}, **KW)
        assert torch.equal(ds[0]["label"], torch.as_tensor(np.asarray(vector), dtype=torch.float32))
        assert ds.num_classes == 8 and ds[1]["label"].shape == (8,)


def test_flipped_clips_mirror_label_vectors(synth_root):
    rows = read_split_file(_single(synth_root)).rows
    vector = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.0, 0.0, 0.0, 0.0])
    ds = VideoClipDataset(
        _single(synth_root),
        synth_root,
        train=True,
        video_id_to_label={r.video_id: vector for r in rows},
        flip_label_map={0: 1, 1: 0},
        **KW,
    )
    labels = {tuple(round(v, 3) for v in ds[i]["label"].tolist()) for i in range(len(ds)) for _ in range(1)}
    ds.set_epoch(1)
    labels |= {tuple(round(v, 3) for v in ds[i]["label"].tolist()) for i in range(len(ds))}
    assert labels == {(0.1, 0.2, 0.3, 0.4, 0, 0, 0, 0), (0.2, 0.1, 0.3, 0.4, 0, 0, 0, 0)}  # both, over draws


def test_reassigning_the_mapping_prepares_it(synth_root):
    rows = read_split_file(_single(synth_root)).rows
    ds = VideoClipDataset(_single(synth_root), synth_root, train=False, **KW)
    assert ds[0]["label"] == rows[0].label
    ds.video_id_to_label = {rows[0].video_id: np.eye(8)[3]}  # e.g. new pseudo-labels for the next epoch
    assert ds[0]["label"].tolist() == np.eye(8)[3].tolist()
    ds.video_id_to_label = None
    assert ds[0]["label"] == rows[0].label


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({0: [0, 0, 1, 0, 0, -1, 0, 0]}, "include a negative one"),
        ({0: "3"}, "expected a class index"),
        ({0: np.zeros((2, 8))}, "must be 1-D"),
        ({0: np.zeros(8), 1: np.zeros(5)}, "different lengths"),
        ([0, 1], "must be a mapping"),
    ],
)
def test_bad_mappings_raise_one_line(synth_root, mapping, message):
    with pytest.raises((ValueError, TypeError), match=message):
        VideoClipDataset(_single(synth_root), synth_root, train=False, video_id_to_label=mapping, **KW)


def test_classes_must_exist_in_a_multilabel_split(synth_root, tmp_path):
    vid = read_split_file(_single(synth_root)).rows[0].video_id
    with pytest.raises(ValueError, match="class 9, outside the 8 classes"):
        VideoClipDataset(
            _multi(synth_root, tmp_path), synth_root, train=False, video_id_to_label={vid: 9}, **KW
        )
    single = VideoClipDataset(_single(synth_root), synth_root, train=False, video_id_to_label={vid: 9}, **KW)
    assert single.num_classes == 10  # a single-label split's classes are the labels it holds


def test_vector_length_must_match_a_multilabel_split(synth_root, tmp_path):
    with pytest.raises(ValueError, match="5 values but the split has 8 classes"):
        VideoClipDataset(
            _multi(synth_root, tmp_path), synth_root, train=False, video_id_to_label={0: np.ones(5)}, **KW
        )


@pytest.mark.filterwarnings("default")
def test_a_mapping_for_part_of_the_split_warns_and_one_for_none_of_it_is_refused(synth_root):
    rows = read_split_file(_single(synth_root)).rows
    with pytest.warns(
        UserWarning, match=f"labels for 1 of the {len(rows)} videos .* keep the split file's labels"
    ):
        ds = VideoClipDataset(
            _single(synth_root), synth_root, train=False, video_id_to_label={rows[0].video_id: 5}, **KW
        )
    assert ds.labels[0] == 5 and ds.labels[1:] == [r.label for r in rows[1:]]
    with pytest.raises(ValueError, match="names none of the .* videos .* built for this split"):
        VideoClipDataset(_single(synth_root), synth_root, train=False, video_id_to_label={99999: 1}, **KW)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a mapping of every video: no warning
        VideoClipDataset(
            _single(synth_root),
            synth_root,
            train=False,
            video_id_to_label={r.video_id: 1 for r in rows},
            **KW,
        )
