"""A -l N run whose source version was itself a -l N continuation: the pseudo-label refresh in force is
read from wherever along the chain it was saved (the links the hook records in source.json, else
vai-train's recorded arguments), never from a version's files past the point the chain left it, with a
cycle guard and a depth limit."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
import torch
from vai_papers.verb_ambiguity import lineage as lineage_mod
from vai_papers.verb_ambiguity.lineage import lineage, read_source, record_source
from vai_papers_test_pseudo_labels import _mapping_equal, _refresh_setup, _run_dir

ARGS = SimpleNamespace(seed=0, no_progress=True)


def _pseudo(rd):
    return rd.predictions / "pseudo_labels"


def _names(rd):
    return sorted(p.name for p in _pseudo(rd).iterdir() if p.name != "source.json")


@pytest.fixture
def chain(tmp_path):
    """version_000 trained from scratch with refreshes saved at epochs 1, 4 and 7 (period 3), each from
    other weights, so each file's labels differ; then the model is zeroed (a computation would differ)."""
    t = _refresh_setup(period=3)
    v0 = SimpleNamespace(run_dir=_run_dir(tmp_path, 0), extra={"source_run_dir": None})
    hook = t.make_hook()
    labels = {}
    for epoch, diag in ((1, None), (4, [1.0, 0.0, 0.0, 0.0]), (7, [0.0, 1.0, 1.0, 0.0])):
        if diag is not None:
            with torch.no_grad():
                t.model.proj.weight.copy_(torch.diag(torch.tensor(diag)))
        hook(epoch, v0, ARGS, 0, 1, t.kit)
        labels[epoch] = hook.video_id_to_label
    assert not any(_mapping_equal(labels[a], labels[b]) for a, b in ((1, 4), (4, 7), (1, 7)))
    with torch.no_grad():
        t.model.proj.weight.mul_(0.0)
    assert t.computed == [1, 4, 7] and _names(v0.run_dir) == [f"epoch_{e:04d}.npz" for e in (1, 4, 7)]

    def run(version, epoch, source, **options):
        """The hook's first call in a -l run: ``version`` continues ``source`` (a RunDir) from ``epoch``."""
        exp = SimpleNamespace(run_dir=_run_dir(tmp_path, version), extra={"source_run_dir": source})
        refresher = t.make_hook(**options)
        refresher(epoch, exp, ARGS, 0, 1, t.kit)
        return refresher.video_id_to_label

    return SimpleNamespace(t=t, v0=v0.run_dir, labels=labels, run=run, rd=lambda v: _run_dir(tmp_path, v))


def test_a_three_version_chain_reads_the_refresh_two_versions_back(chain, caplog):
    """version_001 = -l 6 of version_000 (starts at 7, copies its epoch_0007); version_002 = -l 5 of
    version_001 (its best epoch, carried from version_000) starts at 6 with epoch 4's refresh in force,
    which only version_000 holds: read from there through version_001's source.json, not recomputed."""
    v1, v2 = chain.rd(1), chain.rd(2)
    assert _mapping_equal(chain.run(1, 7, chain.v0), chain.labels[7])
    assert _names(v1) == ["epoch_0007.npz"]
    link = json.loads((_pseudo(v1) / "source.json").read_text())
    assert link["source"] == "../version_000" and link["start_epoch"] == 7
    with caplog.at_level(logging.INFO):
        got = chain.run(2, 6, v1)
    assert chain.t.computed == [1, 4, 7] and _mapping_equal(got, chain.labels[4])
    assert f"computed at epoch 4 read from {_pseudo(chain.v0) / 'epoch_0004.npz'}" in caplog.text
    assert (_pseudo(v2) / "epoch_0004.npz").read_bytes() == (
        _pseudo(chain.v0) / "epoch_0004.npz"
    ).read_bytes()
    folder, start = read_source(v2.path)
    assert folder.resolve() == _pseudo(v1).resolve() and start == 6
    # a continuation of version_002 finds the copy in its direct source
    assert _mapping_equal(chain.run(3, 5, v2), chain.labels[4]) and chain.t.computed == [1, 4, 7]


def test_a_sources_files_past_the_point_the_chain_left_it_are_not_used(chain):
    """version_001 continued version_000 from epoch 4 (and lost its copy of epoch 4's refresh); version_000
    went on and saved epoch_0005 from weights version_001 never had. A -l 5 of version_001 (starts at 6,
    refresh 4 in force) reads version_000's epoch_0004, not its 0005; one starting at 8 (refresh 7) may not
    use version_000's epoch_0007 at all and computes."""
    src = _pseudo(chain.v0)
    (src / "epoch_0005.npz").write_bytes((src / "epoch_0001.npz").read_bytes())
    v1 = chain.rd(1)
    record_source(_pseudo(v1), src, 4)
    walk = [(f.resolve(), e) for f, e in lineage(_pseudo(chain.rd(2)), _pseudo(v1), 6, 4)]
    assert walk == [(_pseudo(v1).resolve(), 6), (src.resolve(), 4)]  # each folder's last usable epoch
    assert [e for _, e in lineage(_pseudo(chain.rd(2)), _pseudo(v1), 8, 7)] == [8]  # version_001 only
    assert _mapping_equal(chain.run(2, 6, v1), chain.labels[4]) and chain.t.computed == [1, 4, 7]
    assert _names(chain.rd(2)) == ["epoch_0004.npz"]
    chain.run(3, 8, v1)
    assert chain.t.computed == [1, 4, 7, 8] and _names(chain.rd(3)) == ["epoch_0008.npz"]


@pytest.mark.parametrize(
    ("version", "load_epoch", "found"), [("auto", 6, True), ("0", 6, True), ("auto", -2, False)]
)
def test_a_version_without_source_json_is_linked_by_its_recorded_arguments(chain, version, load_epoch, found):
    """A middle version made without the link file (an older vai-papers): vai-train copied the source's
    args.json into it and added its own -l invocation, which names the source (-v; auto: the highest
    version below) and N (start N + 1). -l -2 does not record the epoch it picked: the walk stops there."""
    v1 = chain.rd(1)
    v1.configs.mkdir(parents=True)
    first = json.dumps({"load_epoch": None, "version": "auto", "seed": 0})
    chain.v0.configs.mkdir(parents=True, exist_ok=True)
    (chain.v0.configs / "args.json").write_text(first)  # the source's own invocation, copied into v1
    (v1.configs / "args.json").write_text(first)
    (v1.configs / "args_1.json").write_text(json.dumps({"load_epoch": load_epoch, "version": version}))
    (v1.configs / "args_2.json").write_text(json.dumps({"load_epoch": -1, "version": "1"}))  # a resume
    _pseudo(v1).mkdir(parents=True)
    assert read_source(v1.path) == ((_pseudo(chain.v0), load_epoch + 1) if found else None)
    got = chain.run(2, 6, v1)
    if found:
        assert _mapping_equal(got, chain.labels[4]) and chain.t.computed == [1, 4, 7]
    else:
        assert chain.t.computed == [1, 4, 7, 6]
    assert read_source(chain.v0.path) is None  # trained from scratch: no source


def test_a_cycle_of_links_is_not_followed_for_ever(chain, caplog):
    v1, v2 = chain.rd(1), chain.rd(2)
    record_source(_pseudo(v1), _pseudo(v2), 6)
    record_source(_pseudo(v2), _pseudo(v1), 6)
    with caplog.at_level(logging.WARNING):
        chain.run(3, 6, v1)
    assert chain.t.computed == [1, 4, 7, 6]
    assert f"comes back to {v1.path}" in caplog.text


def test_the_walk_back_stops_at_the_depth_limit(chain, caplog, monkeypatch):
    """versions 1..5 each continue the one before from epoch 6 and hold no file; epoch 4's refresh is in
    version_000, six versions back from a continuation of version_005: found within the default limit,
    not within a limit of 3 (a warning, then computed)."""
    for v in range(1, 6):
        record_source(_pseudo(chain.rd(v)), _pseudo(chain.rd(v - 1)), 6)
    assert _mapping_equal(chain.run(6, 6, chain.rd(5)), chain.labels[4]) and chain.t.computed == [1, 4, 7]
    monkeypatch.setattr(lineage_mod, "MAX_DEPTH", 3)
    with caplog.at_level(logging.WARNING):
        chain.run(7, 6, chain.rd(5))
    assert chain.t.computed == [1, 4, 7, 6]
    assert "more than 3 versions long" in caplog.text


def test_a_version_in_the_sources_place_is_not_taken_for_it(chain):
    """The args fallback names a version by number (-v, or auto: the highest below): if the source was
    deleted, or another run made a version in between, the folder there has another history and is not
    followed (its files came from other weights)."""
    v1 = chain.rd(1)
    v1.configs.mkdir(parents=True)
    (v1.configs / "args.json").write_text(json.dumps({"load_epoch": None, "version": "auto", "seed": 0}))
    (v1.configs / "args_1.json").write_text(json.dumps({"load_epoch": 6, "version": "auto"}))
    _pseudo(v1).mkdir(parents=True)
    chain.v0.configs.mkdir(parents=True, exist_ok=True)
    (chain.v0.configs / "args.json").write_text(
        json.dumps({"load_epoch": None, "version": "auto", "seed": 5})
    )
    assert read_source(v1.path) is None
    chain.run(2, 6, v1)
    assert chain.t.computed == [1, 4, 7, 6]  # not read from version_000: computed
