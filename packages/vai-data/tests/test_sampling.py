import pytest
import torch
from vai_data import add_neighbours, dense_indices, sparse_indices, sparse_indices_with_neighbours


def test_sparse_test_is_segment_start():
    assert sparse_indices(16, 8, train=False).tolist() == [0, 2, 4, 6, 8, 10, 12, 14]
    assert sparse_indices(10, 3, train=False).tolist() == [0, 3, 6]  # int(10*i/3)


def test_sparse_short_video_repeats():
    assert sparse_indices(4, 8, train=False).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    g = torch.Generator().manual_seed(0)
    assert sparse_indices(4, 8, train=True, generator=g).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_sparse_train_within_segments_and_seeded():
    n, t = 37, 5
    starts = [n * i // t for i in range(t + 1)]
    seen = set()
    for s in range(50):
        idx = sparse_indices(n, t, True, torch.Generator().manual_seed(s)).tolist()
        assert all(starts[i] <= idx[i] < starts[i + 1] for i in range(t))
        seen.add(tuple(idx))
    assert len(seen) > 10
    a = sparse_indices(n, t, True, torch.Generator().manual_seed(4))
    b = sparse_indices(n, t, True, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


def test_dense_test_single_clip_is_middle():
    # span = 7*2+1 = 15, starts = 100-15+1 = 86 -> middle start (86-1)//2 = 42
    idx = dense_indices(100, 8, 2, train=False)
    assert idx.tolist() == list(range(42, 42 + 16, 2))


def test_dense_test_multi_clip_spreads_both_ends():
    starts = [int(dense_indices(100, 8, 2, False, num_clips=3, clip_idx=k)[0]) for k in range(3)]
    assert starts == [0, 42, 85]
    assert int(dense_indices(100, 8, 2, False, num_clips=3, clip_idx=2)[-1]) == 99


def test_dense_train_random_start_and_short_video():
    for s in range(20):
        idx = dense_indices(40, 4, 3, True, generator=torch.Generator().manual_seed(s))
        assert 0 <= idx[0] <= 40 - 10 and torch.all(idx.diff() == 3)
    assert dense_indices(5, 4, 2, False).tolist() == [0, 2, 4, 4]


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_video_frames=0"):
        sparse_indices(0, 8, True)
    with pytest.raises(ValueError, match="clip_idx=3"):
        dense_indices(10, 2, 1, False, num_clips=3, clip_idx=3)


def test_neighbours():
    assert add_neighbours(torch.tensor([0, 5, 9]), 2, 10).tolist() == [0, 1, 2, 5, 6, 7, 9, 9, 9]
    idx = sparse_indices_with_neighbours(20, 3, 4, train=False)
    assert idx.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
