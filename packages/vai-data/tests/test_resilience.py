"""BadSampleTracker: substitutes for unreadable samples, how they are counted, and the substitutes' stride."""

import math
import multiprocessing

import pytest
from vai_data import VideoDecodeError
from vai_data.datasets.resilience import MAX_SUBSTITUTES, BadSampleTracker, substitute_stride


def _loader(bad: set[int], calls: list):
    def load(index, attempt):
        calls.append((index, attempt))
        if index in bad:
            raise VideoDecodeError(f"video{index}.mp4", "moov atom not found")
        return index

    return load


@pytest.mark.parametrize("length", [1, 2, 3, 5, 10, 11, 12, 97, 100, 1000, 7919, 15838])
def test_substitute_stride_visits_distinct_samples_far_from_the_bad_one(length):
    stride = substitute_stride(length)
    assert 1 <= stride and math.gcd(stride, length) == 1
    tries = min(MAX_SUBSTITUTES, length - 1)
    seen = {(7 + k * stride) % length for k in range(1, tries + 1)}
    assert len(seen) == tries and (7 % length) not in seen
    if length >= 10:  # not the neighbours: bad files often come in runs (one broken download folder)
        assert min(stride, length - stride) > length // 4


def test_each_substituted_sample_counts_once():
    tracker = BadSampleTracker("skip")
    calls = []
    length, stride = 11, substitute_stride(11)
    bad = {0, stride % length, (2 * stride) % length}  # sample 0 and its first two substitutes
    assert tracker.run(0, length, _loader(bad, calls)) == (3 * stride) % length
    assert [a for _, a in calls] == [0, 1, 2, 3]  # the k-th substitute is loaded as attempt k
    assert tracker.count == 1
    assert tracker.run(4, length, _loader(bad, calls)) == 4 and tracker.count == 1  # readable: no count
    tracker.run(stride % length, length, _loader(bad, calls))
    assert tracker.count == 2


def test_every_sample_bad_raises_one_clear_error_and_counts_once():
    tracker = BadSampleTracker("skip")
    with pytest.raises(VideoDecodeError, match=r"video3\.mp4.*moov atom not found; and 4 substitute samples"):
        tracker.run(3, 5, _loader(set(range(5)), []))
    assert tracker.count == 1
    with pytest.raises(VideoDecodeError, match="there is no other sample"):
        tracker.run(0, 1, _loader({0}, []))
    calls = []
    with pytest.raises(VideoDecodeError, match=f"{MAX_SUBSTITUTES} substitute samples"):
        tracker.run(0, 500, _loader(set(range(500)), calls))
    assert len(calls) == 1 + MAX_SUBSTITUTES


def test_raise_policy_counts_nothing():
    tracker = BadSampleTracker("raise")
    with pytest.raises(VideoDecodeError, match="video1.mp4"):
        tracker.run(1, 3, _loader({1}, []))
    assert tracker.count == 0


def _add(tracker, n):
    for _ in range(n):
        tracker._count.add(1)


def test_count_is_exact_when_processes_add_at_once():
    tracker = BadSampleTracker("skip")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_add, args=(tracker, 3000)) for _ in range(3)]
    for p in procs:
        p.start()
    _add(tracker, 3000)
    for p in procs:
        p.join()
    assert tracker.count == 12000  # a read-modify-write without the lock loses some


def test_counter_without_named_semaphores_still_counts(monkeypatch):
    """Platforms without sem_open (e.g. AWS Lambda) get the shared integer without its lock."""
    from vai_data.datasets import resilience

    def no_semaphores(*args, **kwargs):
        raise OSError("sem_open is not implemented")

    monkeypatch.setattr(multiprocessing.get_context("spawn"), "Value", no_semaphores)
    tracker = BadSampleTracker("skip")
    assert isinstance(tracker._count._box, resilience._LocklessCounter)
    tracker.run(0, 3, _loader({0}, []))
    assert tracker.count == 1


def _record_row(tracker, row):
    tracker.record(VideoDecodeError(f"video{row}.mp4", "moov atom not found"), row)


def test_a_bad_row_warns_once_across_processes_then_logs_at_debug(caplog):
    """The logged rows live in shared memory: a row a (forked) worker warned about does not warn again in
    another process or a later epoch's workers; other rows still do."""
    import logging

    tracker = BadSampleTracker("skip")
    child = multiprocessing.get_context("fork").Process(target=_record_row, args=(tracker, 7))
    child.start()
    child.join()
    with caplog.at_level(logging.DEBUG, logger="vai_data.datasets.resilience"):
        _record_row(tracker, 7)
        _record_row(tracker, 8)
        _record_row(tracker, 8)
    levels = [(r.levelname, "video7" in r.getMessage()) for r in caplog.records]
    assert levels == [("DEBUG", True), ("WARNING", False), ("DEBUG", False)]


def test_views_of_one_row_share_its_warning(caplog):
    import logging

    tracker = BadSampleTracker("skip")
    with caplog.at_level(logging.WARNING, logger="vai_data.datasets.resilience"):
        for view in range(6):  # 3 views of row 0 then 3 of row 1, each unreadable once, then substituted
            tracker.run(view, 12, _loader({view}, []), views=3)
    assert len(caplog.records) == 2 and tracker.count == 6


def test_shared_values_pickle_as_copies_outside_worker_start():
    import pickle

    from vai_data.datasets.resilience import SharedBits, SharedInt

    n, bits = SharedInt(5, locked=True), SharedBits(64)
    bits.test_and_set(3)
    n2, bits2 = pickle.loads(pickle.dumps(n)), pickle.loads(pickle.dumps(bits))
    assert n2.value == 5 and n2.add(2) == 7 and n.value == 5
    assert bits2.test_and_set(3) and not bits2.test_and_set(4) and not bits.test_and_set(4)


def test_a_bad_samples_stand_in_changes_with_the_epoch():
    """Epoch 0 keeps the first substitute (index + stride); later epochs start one step further, so no
    single sample stands in for a bad one every epoch; every epoch's tries are still distinct samples."""
    length, bad = 11, 3
    stride = substitute_stride(length)
    tracker = BadSampleTracker("skip")
    stand_ins = [tracker.run(bad, length, _loader({bad}, []), epoch=e) for e in range(4)]
    assert stand_ins[0] == (bad + stride) % length
    assert len(set(stand_ins)) == 4
    for epoch in (0, 5, 23):
        calls = []
        with pytest.raises(VideoDecodeError):
            tracker.run(bad, length, _loader(set(range(length)), calls), epoch=epoch)
        assert sorted(i for i, _ in calls[1:]) == sorted(set(range(length)) - {bad})
