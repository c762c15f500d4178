"""The pseudo-label epoch_start_script across processes and versions: a refresh is saved under the epoch
that computed it and read back on resume, a continued (-l N) run reads its source version's refresh, and
the neighbour cache lives under the run's experiment root."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import torch
from vai_papers_test_pseudo_labels import _mapping_equal, _refresh_setup, _run_dir


def test_a_refresh_is_saved_under_the_epoch_that_computed_it(tmp_path):
    """A process resumed at epoch 5 (period 3: epoch 4's refresh in force) with no saved refresh computes
    one from its model: it is saved as epoch_0005, not as epoch 4's, and a later resume reads it back."""
    t = _refresh_setup()
    exp = SimpleNamespace(run_dir=_run_dir(tmp_path, 0), extra={})
    args = SimpleNamespace(seed=0, no_progress=True)
    folder = exp.run_dir.predictions / "pseudo_labels"
    hook = t.make_hook()
    hook(5, exp, args, 0, 1, t.kit)
    assert sorted(p.name for p in folder.iterdir() if p.name != "source.json") == ["epoch_0005.npz"]
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
    assert sorted(p.name for p in folder.iterdir() if p.name != "source.json") == [
        "epoch_0005.npz",
        "epoch_0007.npz",
    ]
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
    assert sorted(p.name for p in src_dir.iterdir() if p.name != "source.json") == [
        "epoch_0001.npz",
        "epoch_0004.npz",
    ]

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
    assert [
        p.name for p in (other.run_dir.predictions / "pseudo_labels").iterdir() if p.name != "source.json"
    ] == ["epoch_0006.npz"]
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
    assert [
        p.name for p in (fresh.run_dir.predictions / "pseudo_labels").iterdir() if p.name != "source.json"
    ] == ["epoch_0006.npz"]
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
