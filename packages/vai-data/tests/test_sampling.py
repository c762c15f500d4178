import pytest
import torch
from vai_data import add_neighbours, dense_indices, sparse_indices, sparse_indices_with_neighbours
from vai_data.sampling import add_neighbour_frames, dense_frames, sparse_train_frames


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
    # span = 7*2+1 = 15, starts = 100-15+1 = 86 -> middle start 86//2 = 43 (upstream: len(choices) // 2)
    idx = dense_indices(100, 8, 2, train=False)
    assert idx.tolist() == list(range(43, 43 + 16, 2))
    assert dense_indices(99, 8, 2, train=False).tolist()[0] == 42  # 85 starts: the middle one


def test_dense_test_multi_clip_spreads_both_ends():
    starts = [int(dense_indices(100, 8, 2, False, num_clips=3, clip_idx=k)[0]) for k in range(3)]
    assert starts == [0, 42, 85]
    assert int(dense_indices(100, 8, 2, False, num_clips=3, clip_idx=2)[-1]) == 99


def test_dense_train_random_start_and_short_video():
    for s in range(20):
        idx = dense_indices(40, 4, 3, True, generator=torch.Generator().manual_seed(s))
        assert 0 <= idx[0] <= 40 - 10 and torch.all(idx.diff() == 3)
    # span 7 > 5 frames: each frame twice ([0,0,1,1,...,4,4], 10 entries, 4 starts), the middle start 2
    assert dense_indices(5, 4, 2, False).tolist() == [1, 2, 3, 4]
    clips = {tuple(dense_indices(5, 4, 2, True, uniform=u).tolist()) for u in (0.0, 0.3, 0.6, 0.9)}
    assert clips == {(0, 1, 2, 3), (1, 2, 3, 4)}  # starts 0..3 of the repeated frames (0, 1 and 2, 3 alike)


def test_dense_short_video_temporal_views_differ():
    # 16 frames, 4 x 8 (span 25): frames repeated twice; three test views spread over the whole video
    views = [dense_indices(16, 4, 8, False, num_clips=3, clip_idx=k).tolist() for k in range(3)]
    assert views == [[0, 4, 8, 12], [2, 6, 10, 14], [3, 7, 11, 15]]  # starts 0, round(3.5) = 4, 7
    assert len({tuple(v) for v in views}) == 3


def _reference_layout(n: int, need: int) -> list[int]:
    """Upstream's frame list for a video of n frames when `need` entries are needed: each frame repeated
    ceil(need/n) times if the video is shorter (written from UPSTREAM.md §1b, independently of vai)."""
    reps = 1 if n >= need else -(-need // n)
    return [f for f in range(n) for _ in range(reps)]


def _reference_dense(n, clip_len, stride, num_clips, clip_idx):
    span = (clip_len - 1) * stride + 1
    frames = _reference_layout(n, span)
    choices = range(len(frames) - span + 1)
    if clip_idx is None:  # train: every start, each equally likely
        return [[frames[c + k * stride] for k in range(clip_len)] for c in choices]
    start = len(choices) // 2 if num_clips == 1 else round((len(choices) - 1) / (num_clips - 1) * clip_idx)
    return [frames[start + k * stride] for k in range(clip_len)]


def _reference_sparse_segments(n, t):
    frames = _reference_layout(n, t)
    bounds = [int(len(frames) * i / t) for i in range(t)] + [len(frames)]
    return [[frames[j] for j in range(bounds[i], bounds[i + 1])] for i in range(t)]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 12, 16, 25, 31, 45, 64, 100, 257])
def test_dense_matches_upstream_maths(n):
    for clip_len, stride in [(1, 1), (4, 1), (4, 8), (8, 2), (8, 8), (16, 2), (32, 2)]:
        span = (clip_len - 1) * stride + 1
        for num_clips in (1, 2, 3, 5, 10):
            for k in range(num_clips):
                want = _reference_dense(n, clip_len, stride, num_clips, k)
                assert dense_frames(n, clip_len, stride, False, num_clips, k) == want, (
                    n,
                    clip_len,
                    stride,
                    k,
                )
        # train: start j of S is drawn by u in [j/S, (j+1)/S): the same clips, each equally likely
        every = _reference_dense(n, clip_len, stride, 1, None)
        s = len(every)
        drawn = [dense_frames(n, clip_len, stride, True, uniform=(j + 0.5) / s) for j in range(s)]
        assert drawn == every, (n, clip_len, stride, span)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 33, 100])
@pytest.mark.parametrize("t", [1, 2, 3, 4, 5, 8, 16, 32])
def test_sparse_matches_upstream_maths(n, t):
    segments = _reference_sparse_segments(n, t)
    assert sparse_indices(n, t, train=False).tolist() == [seg[0] for seg in segments]
    # train: segment i's draw u picks entry int(u * width) of the segment: every entry equally likely
    for i, seg in enumerate(segments):
        for j, frame in enumerate(seg):
            u = [0.0] * t
            u[i] = (j + 0.5) / len(seg)
            assert sparse_train_frames(n, t, u)[i] == frame, (n, t, i, j)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_video_frames=0"):
        sparse_indices(0, 8, True)
    with pytest.raises(ValueError, match="num_segments=-1 must be at least 1"):
        sparse_indices(10, -1, True)  # checked before any draw
    with pytest.raises(ValueError, match="clip_idx=3"):
        dense_indices(10, 2, 1, False, num_clips=3, clip_idx=3)


def test_neighbours():
    assert add_neighbours(torch.tensor([0, 5, 9]), 2, 10).tolist() == [0, 1, 2, 5, 6, 7, 9, 9, 9]
    idx = sparse_indices_with_neighbours(20, 3, 4, train=False)
    assert idx.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]


def test_list_samplers_equal_the_tensor_ones():
    for n, t, s in [(100, 8, 2), (5, 4, 2), (1, 3, 1)]:
        assert dense_frames(n, t, s, False) == dense_indices(n, t, s, False).tolist()
        assert dense_frames(n, t, s, True, uniform=0.7) == dense_indices(n, t, s, True, uniform=0.7).tolist()
        for k in range(3):
            assert dense_frames(n, t, s, False, 3, k) == dense_indices(n, t, s, False, 3, k).tolist()
    assert add_neighbour_frames([0, 5, 9], 2, 10) == add_neighbours(torch.tensor([0, 5, 9]), 2, 10).tolist()
    assert add_neighbour_frames([], 2, 10) == []
    for bad in [dict(stride=0), dict(clip_len=0)]:
        kw = dict(num_video_frames=10, clip_len=2, stride=1, train=False) | bad
        with pytest.raises(ValueError, match="must be at least 1|must be an int >= 1"):
            dense_frames(**kw)
    with pytest.raises(ValueError, match="train=True needs the uniform"):
        dense_frames(10, 2, 1, True)  # train needs the draw
    with pytest.raises(ValueError, match="num_neighbours=-1"):
        add_neighbour_frames([0], -1, 10)


def test_sparse_train_frames_draw_from_a_function_in_segment_order():
    import random

    draws = [0.0, 0.5, 0.99, 0.25]
    assert (
        sparse_train_frames(16, 4, iter(draws).__next__)
        == sparse_train_frames(16, 4, draws)
        == [0, 6, 11, 13]
    )
    a, b = random.Random(7), random.Random(7)
    assert sparse_train_frames(50, 8, a.random) == sparse_train_frames(50, 8, [b.random() for _ in range(8)])
    with pytest.raises(ValueError, match="num_segments=0"):
        sparse_train_frames(16, 0, a.random)
    with pytest.raises(ValueError, match="num_video_frames=0"):
        sparse_train_frames(0, 4, a.random)


def test_sparse_test_temporal_views_spread_within_segments():
    from vai_data.sampling import sparse_test_indices

    assert torch.equal(sparse_test_indices(16, 8, 0, 2), sparse_indices(16, 8, train=False))
    assert sparse_test_indices(16, 8, 1, 2).tolist() == [1, 3, 5, 7, 9, 11, 13, 15]  # half-way in each
    # 12 frames, 8 segments: views still differ (a shift of int(12/8 * 1/2) = 0 frames made them equal)
    views = [sparse_test_indices(12, 8, v, 2).tolist() for v in range(2)]
    assert views == [[0, 1, 3, 4, 6, 7, 9, 10], [0, 2, 3, 5, 6, 8, 9, 11]]
    # 3 views of a 4-frame video and 8 segments: over the frames repeated twice, never past the end
    for v in range(3):
        idx = sparse_test_indices(4, 8, v, 3).tolist()
        assert idx == sorted(idx) and 0 <= idx[0] and idx[-1] <= 3
    with pytest.raises(ValueError, match="view=2 must be in"):
        sparse_test_indices(16, 8, 2, 2)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sparse_indices_with_neighbours(0, 3, 2, False), "at least one frame"),
        (lambda: sparse_indices_with_neighbours(-5, 3, 2, False), "at least one frame"),
        (lambda: sparse_indices_with_neighbours(10, 3, -1, False), "num_neighbours=-1"),
        (lambda: add_neighbour_frames([0, 1], 2, 0), "at least one frame"),
        (lambda: add_neighbour_frames([0, 1], 1.5, 10), "num_neighbours=1.5"),
        (lambda: sparse_indices(16.9, 8, False), "num_video_frames=16.9 must be an int"),
        (lambda: sparse_indices(16, 8.0, True), "num_segments=8.0 must be an int"),
        (lambda: sparse_indices(True, 4, False), "num_video_frames=True must be an int"),
        (lambda: dense_indices(40, 8, 2, False, num_clips=0), "num_clips=0 must be an int >= 1"),
        (lambda: dense_indices(40, 8, 2, False, num_clips=-3), "num_clips=-3"),
        (lambda: dense_indices(40, 8, 2.0, False), "stride=2.0 must be an int"),
        (lambda: dense_indices(40, 8, 2, False, num_clips=3, clip_idx=1.0), "clip_idx=1.0"),
    ],
)
def test_bad_counts_are_refused_in_one_line_not_truncated_or_negative(call, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")) as ei:
        call()
    assert "\n" not in str(ei.value)


def test_numpy_integer_counts_are_accepted():
    import numpy as np

    assert sparse_indices(np.int64(16), np.int32(4), False).tolist() == [0, 4, 8, 12]
    # 34 starts for a 7-frame span: the middle one, 17
    assert dense_indices(np.int64(40), 4, np.int64(2), False, num_clips=np.int64(1)).tolist() == [
        17,
        19,
        21,
        23,
    ]
