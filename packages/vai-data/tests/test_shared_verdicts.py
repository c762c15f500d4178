"""Seek-probe verdicts shared by a dataset's DataLoader workers across epochs (vai_data.shared_verdicts): the
table's round trip, its limits, how it travels to worker processes, and that a later epoch's fresh workers
look verdicts up instead of probing every video again."""

from __future__ import annotations

import copy
import multiprocessing
import os
import pickle
import threading

import av
import pytest
from torch.utils.data import DataLoader
from vai_data import VideoClipDataset
from vai_data import decode_probe as probe
from vai_data.decode_probe import Verdict
from vai_data.shared_verdicts import PROBLEM_TEXTS, SharedVerdicts, path_key, problem_kind

SMALL = dict(num_frames=2, crop_size=16, scale_jitter=(16, 20), test_scale=16)

VERDICTS = [
    Verdict(None, (340, 256), 0, False),
    Verdict(None, None, None, False),
    Verdict("MPEG-TS container: seeks land near, not on, a keyframe", (64, 48), 1, False),
    Verdict("mpeg4 with B-frames, whose GOPs are open unless the encoder closed them", (320, 240), 0, False),
    Verdict(None, (1080, 1920), 0, True),  # several video streams, the first decoded
    Verdict(None, (32, 24), 3, True),
]


@pytest.fixture
def shared(monkeypatch):
    """A table installed for this process, with an empty process cache (as a fresh DataLoader worker has)."""
    table = SharedVerdicts(16)
    monkeypatch.setattr(probe, "_verdicts", {})
    with probe.verdicts_shared_in(table):
        yield table


def test_verdicts_round_trip():
    table = SharedVerdicts(len(VERDICTS))
    for i, v in enumerate(VERDICTS):
        assert table.put(f"/data/{i}.mp4", v)
    assert len(table) == len(VERDICTS)
    for i, v in enumerate(VERDICTS):
        assert table.get(f"/data/{i}.mp4") == v
    assert table.get("/data/other.mp4") is None


@pytest.mark.parametrize(
    "problem,kind",
    [
        (None, None),
        ("packets without timestamps", "packets without timestamps"),
        ("two packets with pts 3003", "two packets with the same pts"),
        (
            "open GOP: packet 7, decoded after a keyframe, is shown before it",
            "open GOP: frames are shown across",
        ),
        ("open GOP: a frame decoded before the keyframe at packet 12 is shown after it", "open GOP: frames"),
        ("the first frame's pts 1024 is not the stream's start 0", "the first frame's pts is not"),
        ("mpeg2video with B-frames, whose GOPs are open unless the encoder closed them", "mpeg2video with B"),
        ("VOB container: seeks land near, not on, a keyframe", "VOB container"),
        ("something new", "a seeking problem found when the file was first probed"),
    ],
)
def test_a_problem_is_stored_as_its_kind_without_numbers(problem, kind):
    table = SharedVerdicts(1)
    table.put("/v.mp4", Verdict(problem, (8, 8), 0, False))
    got = table.get("/v.mp4").problem
    assert (got is None) if kind is None else got.startswith(kind)
    assert PROBLEM_TEXTS[problem_kind(problem)] == got


def test_the_first_verdict_stays_and_a_full_neighbourhood_stores_no_more():
    table = SharedVerdicts(0)
    assert table.slots == 64
    assert table.put("/a.mp4", VERDICTS[0]) and table.put("/a.mp4", VERDICTS[2])
    assert table.get("/a.mp4") == VERDICTS[0]  # another worker's verdict for the same file is the same
    stored = [p for p in (f"/x/{i}.mp4" for i in range(200)) if table.put(p, VERDICTS[3])]
    assert len(stored) == 63 and len(table) == 64  # every slot used, the rest refused
    assert all(table.get(p) == VERDICTS[3] for p in stored)
    missing = [f"/x/{i}.mp4" for i in range(200) if f"/x/{i}.mp4" not in stored]
    assert all(table.get(p) is None for p in missing)


def test_capacity_and_bad_sizes():
    assert SharedVerdicts(100).slots == 256 and SharedVerdicts(128).slots == 256
    for bad in (-1, 2.5, True, "10"):
        with pytest.raises(ValueError, match="expected_files=") as e:
            SharedVerdicts(bad)
        assert "\n" not in str(e.value)


def test_path_keys_are_stable_and_nonzero():
    assert path_key("/data/a.mp4") == path_key("/data/a.mp4") != path_key("/data/b.mp4")
    assert path_key("/data/\udcff.mp4") != 0  # an undecodable file name (surrogate escape) still hashes


def test_a_plain_copy_is_an_empty_table_of_its_own():
    table = SharedVerdicts(4)
    table.put("/a.mp4", VERDICTS[0])
    for clone in (pickle.loads(pickle.dumps(table)), copy.deepcopy(table)):
        assert clone.slots == table.slots and clone.get("/a.mp4") is None
        clone.put("/b.mp4", VERDICTS[1])
        assert table.get("/b.mp4") is None


def _put_in_child(table, path):
    table.put(path, VERDICTS[2])


@pytest.mark.parametrize(
    "method", [m for m in ("fork", "spawn") if m in multiprocessing.get_all_start_methods()]
)
def test_a_verdict_stored_in_a_worker_process_reaches_its_parent(method):
    table = SharedVerdicts(4)
    ctx = multiprocessing.get_context(method)
    child = ctx.Process(target=_put_in_child, args=(table, "/from/child.mp4"))
    child.start()
    child.join(120)
    assert child.exitcode == 0 and table.get("/from/child.mp4") == VERDICTS[2]


def test_seek_probe_reuses_a_shared_verdict_instead_of_probing(shared, video_file, monkeypatch):
    calls = []
    real = probe._probe
    monkeypatch.setattr(probe, "_probe", lambda p: calls.append(p) or real(p))
    first = probe.seek_probe(video_file)
    assert calls == [video_file] and shared.get(video_file) == first
    probe._verdicts.clear()  # a new worker: its own cache is empty, the shared table is not
    assert probe.seek_probe(video_file) == first and calls == [video_file]
    probe.clear_cache()
    assert len(shared) == 0
    probe.seek_probe(video_file)
    assert calls == [video_file, video_file]


def test_a_table_is_installed_only_for_the_block_and_thread():
    table, other = SharedVerdicts(1), SharedVerdicts(1)
    with probe.verdicts_shared_in(table):
        assert probe._shared.get() is table
        with probe.verdicts_shared_in(None):  # a source without a table changes nothing
            assert probe._shared.get() is table
        with pytest.raises(KeyError), probe.verdicts_shared_in(other):
            raise KeyError("a failed read")
        assert probe._shared.get() is table
        seen = []
        thread = threading.Thread(target=lambda: seen.append(probe._shared.get()))
        thread.start()
        thread.join()
        assert seen == [None]  # another thread reading another dataset is not given this one's table
    assert probe._shared.get() is None


def test_a_failed_probe_is_not_shared(shared, tmp_path, monkeypatch):
    """A probe that raised (an I/O error for a moment) judges nothing: later workers must try again."""
    path = str(tmp_path / "v.mp4")

    def broken(local_path):
        raise OSError("Too many open files")

    monkeypatch.setattr(av, "open", broken)  # the probe imports av when it runs
    assert probe.seek_probe(path) == Verdict(None, None) and shared.get(path) is None


def test_clear_cache_empties_every_table_of_the_process(video_file, monkeypatch):
    monkeypatch.setattr(probe, "_verdicts", {})
    kept = SharedVerdicts(4)  # held by a dataset, not installed at this moment
    kept.put(video_file, VERDICTS[0])
    probe.clear_cache()
    assert kept.get(video_file) is None and len(kept) == 0


def test_a_full_neighbourhood_refuses_while_other_slots_are_free(monkeypatch):
    import vai_data.shared_verdicts as sv

    monkeypatch.setattr(sv, "path_key", lambda path: 256 * int(path.split("/")[-1]) + 5)  # one home slot
    table = SharedVerdicts(100)
    assert table.slots == 256
    stored = [i for i in range(1, 80) if table.put(f"/k/{i}", VERDICTS[1])]
    assert stored == list(range(1, 65)) and len(table) == 64  # 192 slots still free
    assert table.get("/k/64") == VERDICTS[1] and table.get("/k/65") is None


def test_a_lock_left_held_by_a_dead_worker_does_not_hang_writers(monkeypatch):
    import vai_data.shared_verdicts as sv

    monkeypatch.setattr(sv, "_LOCK_WAIT_S", 0.05)
    table = SharedVerdicts(4)
    table.put("/kept.mp4", VERDICTS[2])
    table._lock.acquire()  # as a worker killed inside put would leave it
    try:
        assert table.put("/a.mp4", VERDICTS[0]) is False and table.get("/a.mp4") is None
        monkeypatch.setattr(sv, "_LOCK_WAIT_S", 60.0)
        assert table.put("/b.mp4", VERDICTS[0]) is False  # at once: no process waits for that lock again
    finally:
        table._lock.release()
    assert table.put("/c.mp4", VERDICTS[0]) is False  # the table stores no more (its verdicts still serve)
    assert table.get("/kept.mp4") == VERDICTS[2]


def _take_lock_and_die(table):
    table._lock.acquire()
    os._exit(0)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_worker_killed_holding_the_lock_stops_every_process_waiting(monkeypatch):
    import time

    import vai_data.shared_verdicts as sv

    monkeypatch.setattr(sv, "_LOCK_WAIT_S", 0.2)
    table = SharedVerdicts(4)
    child = multiprocessing.get_context("fork").Process(target=_take_lock_and_die, args=(table,))
    child.start()
    child.join(60)
    start = time.perf_counter()
    assert [table.put(f"/{i}.mp4", VERDICTS[0]) for i in range(10)] == [False] * 10
    assert time.perf_counter() - start < 2.0  # one wait, not ten


def test_without_a_shared_table_each_process_probes(video_file, monkeypatch):
    monkeypatch.setattr(probe, "_verdicts", {})
    calls = []
    real = probe._probe
    monkeypatch.setattr(probe, "_probe", lambda p: calls.append(p) or real(p))
    probe.seek_probe(video_file)
    probe._verdicts.clear()
    probe.seek_probe(video_file)
    assert calls == [video_file, video_file]


def _never_probe(path):
    raise AssertionError(f"{path} probed again")


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_later_epochs_workers_probe_no_video_again(synth_root, monkeypatch):
    """Epoch 0's workers probe each video once and share the verdicts; epoch 1's fresh workers (not
    persistent, as vai-train's) look every one up: probing would raise there."""
    monkeypatch.setattr(probe, "_verdicts", {})
    split = os.path.join(synth_root, "splits", "train.csv")
    ds = VideoClipDataset(split, synth_root, train=True, seed=1, bad_sample_policy="raise", **SMALL)
    loader = DataLoader(
        ds, batch_size=4, num_workers=2, multiprocessing_context="fork", persistent_workers=False
    )
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        assert sum(len(b["label"]) for b in loader) == len(ds)
        if epoch == 0:
            assert len(ds._probe_verdicts) == len({r.path for r in ds.split.rows})
            assert not probe._verdicts  # the workers probed, not this process
            monkeypatch.setattr(probe, "_probe", _never_probe)


def test_frame_folder_and_pyav_datasets_have_no_table(synth_root):
    split = os.path.join(synth_root, "splits", "train_frames.csv")
    assert VideoClipDataset(split, synth_root, train=True, **SMALL)._probe_verdicts is None
    split = os.path.join(synth_root, "splits", "train.csv")
    assert VideoClipDataset(split, synth_root, train=True, backend="pyav", **SMALL)._probe_verdicts is None


def test_without_semaphores_the_table_works_unlocked(monkeypatch):
    def no_semaphores():
        raise OSError("sem_open is not implemented on this platform")

    monkeypatch.setattr(multiprocessing.get_context("spawn"), "Lock", no_semaphores)
    table = SharedVerdicts(2)
    assert table.put("/a.mp4", VERDICTS[4]) and table.get("/a.mp4") == VERDICTS[4]
