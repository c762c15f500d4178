"""Config roots, lookup order, include(), channel sub-folders, hook defaults and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from vai_train.config import (
    ConfigError,
    ConfigNotFoundError,
    discover_roots,
    exec_config,
    list_configs,
    load_exp_config,
    normalise_task,
)
from vai_train.config.roots import exp_relpath, model_relpath


def _roots(config_root: Path):
    return discover_roots([config_root], use_entry_points=False)


def test_load_triple_and_defaults(config_root: Path) -> None:
    cfg = load_exp_config(_roots(config_root), "tiny", "tinynet", "base")
    assert cfg.num_classes == 4 and cfg.task == "single_label"
    assert cfg.batch_size == 8 and cfg.val_batch_size == 10 and cfg.input_frame_length == 2
    assert cfg.exp_cfg.dataset_cfg is cfg.dataset_cfg and cfg.exp_cfg.model_cfg is cfg.model_cfg
    model = cfg.load_model()
    assert model.fc.out_features == 4
    assert isinstance(cfg.get_criterion("train"), torch.nn.CrossEntropyLoss)
    assert cfg.scheduler(cfg.optimiser(model.parameters()), 10) is None
    assert cfg.clip_grad_max_norm is None and cfg.grad_accum_steps == 1 and cfg.ema_decay is None
    probs = cfg.last_activation()(torch.zeros(2, 4))
    assert torch.allclose(probs, torch.full((2, 4), 0.25))
    inputs, ids, labels, extra = cfg.get_data_unpack_func("train")(
        torch.utils.data.default_collate([cfg.get_torch_dataset("val")[i] for i in range(3)])
    )
    assert inputs.shape == (3, 3, 2, 8, 8) and ids.tolist() == [0, 1, 2] and "spatial_idx" in extra


def test_collate_fn_default_and_override(config_root: Path) -> None:
    cfg = load_exp_config(_roots(config_root), "tiny", "tinynet", "base")
    ds = cfg.get_torch_dataset("val")
    assert cfg.get_collate_fn("val", ds) is None  # torch's default collate
    ds.collate_fn = torch.utils.data.default_collate
    assert cfg.get_collate_fn("val", ds) is torch.utils.data.default_collate  # the dataset's own
    cfg.exp_cfg.get_collate_fn = lambda split: f"collate for {split}" if split == "train" else None
    assert cfg.get_collate_fn("train", ds) == "collate for train"  # the exp config's hook wins
    assert cfg.get_collate_fn("val", ds) is torch.utils.data.default_collate  # hook returned None
    # eval/feature of the train split must not use the training collate (e.g. mixup)
    assert cfg.get_collate_fn("train", ds, training=False) is torch.utils.data.default_collate
    sub = torch.utils.data.Subset(ds, [0, 1])
    assert cfg.get_collate_fn("val", sub) is torch.utils.data.default_collate  # found through Subset


def test_include_composes_and_records_files(config_root: Path) -> None:
    cfg = load_exp_config(_roots(config_root), "tiny", "tinynet", "plateau")
    assert cfg.batch_size == 8  # from the included base file
    assert cfg.ema_decay == 0.9 and cfg.grad_accum_steps == 2
    names = [p.name for _, p in cfg.files]
    assert "tinynet-plateau.py" in names and "tinynet-base.py" in names


def test_channel_subfolders(config_root: Path) -> None:
    cfg = load_exp_config(
        _roots(config_root), "tiny", "tinynet", "base", dataset_channel="alt", exp_channel="alt"
    )
    assert cfg.dataset_cfg.channel_marker == "alt"
    assert cfg.num_epochs == 1


def test_missing_config_lists_every_path(tmp_path: Path, config_root: Path) -> None:
    other = tmp_path / "other"
    (other / "dataset_configs").mkdir(parents=True)
    roots = discover_roots([other, config_root], use_entry_points=False)
    with pytest.raises(ConfigNotFoundError) as e:
        load_exp_config(roots, "nope", "tinynet", "base")
    msg = str(e.value)
    assert "\n" not in msg
    assert (
        str(other / "dataset_configs" / "nope.py") in msg
        and str(config_root / "dataset_configs" / "nope.py") in msg
    )


def test_missing_required_item_names_file(config_root: Path) -> None:
    with pytest.raises(ConfigError, match=r"tinynet-nolr\.py: required item 'get_torch_dataset'"):
        load_exp_config(_roots(config_root), "tiny", "tinynet", "nolr")


def test_first_root_wins_and_listing(tmp_path: Path, config_root: Path) -> None:
    over = tmp_path / "over"
    (over / "dataset_configs").mkdir(parents=True)
    (over / "dataset_configs" / "tiny.py").write_text("num_classes = 7\n")
    roots = discover_roots([over, config_root], use_entry_points=False)
    cfg = load_exp_config(roots, "tiny", "tinynet", "base")
    assert cfg.num_classes == 7
    listing = list_configs(roots)
    assert dict(listing["datasets"])["tiny"].path == over.resolve()
    assert "tiny/tinynet-base" in dict(listing["experiments"])
    assert "tinynet" in dict(listing["models"])


def test_local_configs_dir_and_bad_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "configs").mkdir()
    monkeypatch.chdir(tmp_path)
    roots = discover_roots([], use_entry_points=False)
    assert [r.source for r in roots] == ["./configs"]
    with pytest.raises(NotADirectoryError, match="nowhere"):
        discover_roots([tmp_path / "nowhere"])


def test_entry_point_roots(monkeypatch: pytest.MonkeyPatch, config_root: Path) -> None:
    class EP:
        name, value = "fake", "fake:root"

        def load(self):
            return lambda: config_root

    import vai_train.config.roots as roots_mod

    monkeypatch.setattr(
        roots_mod, "entry_points", lambda group: [EP()] if group == "vai.config_roots" else []
    )
    roots = roots_mod.discover_roots([])
    assert roots[-1].path == config_root and roots[-1].source == "entry point fake"


def test_exec_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("include('missing.py')\n")
    with pytest.raises(ConfigError, match="missing.py"):
        exec_config(bad, "bad_cfg")
    loop = tmp_path / "loop.py"
    loop.write_text("include('loop.py')\n")
    with pytest.raises(ConfigError, match="circular"):
        exec_config(loop, "loop_cfg")
    boom = tmp_path / "boom.py"
    boom.write_text("x = 1 / 0\n")
    with pytest.raises(ConfigError, match=r"boom\.py.*ZeroDivisionError"):
        exec_config(boom, "boom_cfg")


def test_task_names_and_paths() -> None:
    class SingleLabelClassificationTask:
        pass

    class MultiLabelClassificationTask:
        pass

    assert normalise_task(SingleLabelClassificationTask, "x") == "single_label"
    assert normalise_task(MultiLabelClassificationTask(), "x") == "multi_label"
    assert normalise_task("multi_label", "x") == "multi_label"
    with pytest.raises(ConfigError, match="regression"):
        normalise_task("regression", "d.py")
    assert model_relpath("tsm_resnet50.v2") == "model_configs/tsm_resnet50+v2.py"
    assert exp_relpath("ssv1", "a.b", "e", "c") == "exp_configs/ch_c/ssv1/a+b-e.py"
