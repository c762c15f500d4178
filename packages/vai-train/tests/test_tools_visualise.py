"""``vai-train visualise``: which samples it draws, through which steps, how it de-normalises, what it writes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import ConcatDataset, Subset
from vai_train import run_visualise
from vai_train.cli import main
from vai_train.tools.visualise import (
    Normalisation,
    choose_indices,
    contact_sheet,
    denormalise_stats,
    label_text,
    normalisation_of,
    to_uint8_frames,
)
from vai_train_test_configs import exp_variant


def _sample_files(res) -> list[str]:
    return sorted(Path(p).name for p in res.metrics["files"])


def test_train_batch_is_seeded_and_drawn(base_args: list[str], tmp_path: Path) -> None:
    res = run_visualise(base_args + ["-n", "3"])
    out = tmp_path / "exp" / "tiny" / "tinynet" / "base" / "visualisations" / "train"
    assert Path(res.metrics["out_dir"]) == out and res.metrics["shape"] == (3, 3, 2, 8, 8)
    names = _sample_files(res)
    assert len(names) == 6 and {n.rsplit(".", 1)[1] for n in names} == {"gif", "jpg"}
    gif = Image.open(out / names[0])
    assert gif.n_frames == 2 and gif.size == (8, 8)  # one GIF frame per clip frame
    assert Image.open(out / names[1]).size == (8 + 2 + 8, 8)  # contact sheet: 2 frames, 2-pixel gap
    assert (
        run_visualise(base_args + ["-n", "3"]).metrics["files"] == res.metrics["files"]
    )  # same seed, same picks
    other = run_visualise(base_args + ["-n", "3", "--seed", "5", "-o", str(tmp_path / "o")])
    assert _sample_files(other) != names
    assert "visualise: 3 train samples" in res.summary_line()


def test_video_ids_views_and_label_names(base_args: list[str], tmp_path: Path) -> None:
    res = run_visualise(base_args + ["-s", "multicropval", "-i", "5", "2", "-o", str(tmp_path / "v")])
    # every view (2 crops) of video 5 then video 2; the tiny labels are i % 4 -> b, c (class_keys)
    assert [n for n in _sample_files(res) if n.endswith(".jpg")] == [
        "000_video5_b.jpg",
        "001_video5_b.jpg",
        "002_video2_c.jpg",
        "003_video2_c.jpg",
    ]


def test_tuple_samples_ids_and_torchrun_refusal(
    base_args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    args = [a if a != "base" else "tuple" for a in base_args]
    res = run_visualise(args + ["-s", "val", "-i", "3", "1", "-o", str(tmp_path / "t")])
    assert [n for n in _sample_files(res) if n.endswith(".jpg")][0].startswith("000_video3_")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["visualise", *base_args]) == 1
    assert "visualise runs as one process: start it without torchrun" in capsys.readouterr().err


def test_an_earlier_calls_samples_are_replaced(base_args: list[str], tmp_path: Path) -> None:
    out = tmp_path / "v"
    (out / "keep.txt").parent.mkdir(parents=True)
    (out / "keep.txt").write_text("mine")
    run_visualise(base_args + ["-n", "3", "-o", str(out)])
    run_visualise(base_args + ["-n", "1", "-o", str(out)])
    assert len(list(out.glob("*.gif"))) == 1 and (out / "keep.txt").read_text() == "mine"


def test_bad_requests_are_one_line(base_args: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main(["visualise", *base_args, "-s", "val", "-i", "999"]) == 1
    assert "-i: video ids [999] are not in this split (24 samples)" in capsys.readouterr().err
    assert main(["visualise", *base_args, "-n", "0"]) == 1
    assert "-n 0: visualise at least one sample" in capsys.readouterr().err
    assert main(["visualize", *base_args, "--fps", "0"]) == 1
    assert "--fps 0.0: frames per second must be positive" in capsys.readouterr().err


def test_mixing_collate_device_transform_and_reshape_run(
    base_args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("VAI_TEST_HOOK_LOG", str(log))
    args = [a if a != "base" else "mix" for a in base_args]
    res = run_visualise(args + ["-n", "4"])  # train: the mixing collate and the dataset's device_transform
    assert all("_mixed." in n for n in _sample_files(res))
    assert '"hook": "mix"' in log.read_text() and '"hook": "device_transform"' in log.read_text()
    hooks = [a if a != "base" else "hooks" for a in base_args]
    run_visualise(hooks + ["-n", "2", "-s", "val"])
    assert '"hook": "input_reshape"' in log.read_text()


def test_non_clip_model_input_falls_back(base_args: list[str], tmp_path: Path) -> None:
    body = "include({base!r})\ndef get_input_reshape_func(split):\n    return lambda x: x.flatten(1)\n"
    args = exp_variant(tmp_path, base_args, "flat", body)
    res = run_visualise(args + ["-n", "1", "--tensorboard", "--graph"])
    assert res.metrics["shape"] == (1, 3, 2, 8, 8)  # the clips before the reshape
    assert "before the input reshape" in res.summary_line()
    assert list((Path(res.metrics["out_dir"]) / "tensorboard").glob("events.out.tfevents.*"))


def _norm(mean, std, scale_255=True, bgr=False) -> Normalisation:
    return Normalisation(mean, std, scale_255, bgr, "test")


def test_denormalise_inverts_the_normalisation() -> None:
    frames = torch.randint(0, 256, (3, 4, 5, 6), dtype=torch.uint8)  # (C, T, H, W) RGB
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    clip = (frames.float() / 255 - mean.view(3, 1, 1, 1)) / std.view(3, 1, 1, 1)
    out = to_uint8_frames(clip, denormalise_stats(_norm(mean.tolist(), std.tolist()), 3))
    assert out.shape == (4, 5, 6, 3) and np.array_equal(out, frames.permute(1, 2, 3, 0).numpy())
    # BGR clips without /255 (I3D's Caffe statistics) come back as RGB
    bgr = (frames.flip(0).float() - 114.75) / 57.375
    stats = denormalise_stats(_norm([114.75] * 3, [57.375] * 3, scale_255=False, bgr=True), 3)
    assert np.array_equal(to_uint8_frames(bgr, stats), frames.permute(1, 2, 3, 0).numpy())


def test_denormalise_stats_shapes() -> None:
    rgb = _norm([0.5, 0.4, 0.3], [0.2, 0.2, 0.2])
    mean, std, scale, bgr = denormalise_stats(rgb, 1)  # grey clip: the statistics' luma
    assert mean.item() == pytest.approx(0.2989 * 0.5 + 0.5870 * 0.4 + 0.1140 * 0.3) and scale == 255.0
    assert denormalise_stats(_norm([0.5], [0.25]), 3)[0].tolist() == [0.5] * 3
    assert denormalise_stats(rgb, 2) is None  # flow: no fitting statistics
    assert denormalise_stats(None, 3) is None
    assert denormalise_stats(_norm([0.5, 0.5], [0.2]), 2) is None


def test_the_datasets_normalize_comes_before_the_model_config() -> None:
    cfg = SimpleNamespace(model_cfg=SimpleNamespace(input_mean=[0.4] * 3, input_std=[0.2] * 3))
    own = SimpleNamespace(
        normalize=SimpleNamespace(
            mean=torch.tensor([0.485]), std=torch.tensor([0.229]), scale_255=True, bgr=False
        )
    )
    norm = normalisation_of(own, cfg)
    assert norm.mean == pytest.approx([0.485]) and norm.source == "the dataset's normalize"
    norm = normalisation_of(SimpleNamespace(), cfg)
    assert norm.mean == pytest.approx([0.4] * 3) and norm.scale_255 and not norm.bgr
    assert normalisation_of(SimpleNamespace(), SimpleNamespace(model_cfg=SimpleNamespace())) is None


def test_min_max_flow_and_bad_channels() -> None:
    clip = torch.stack([torch.linspace(-1, 1, 8).view(2, 2, 2), torch.zeros(2, 2, 2)])  # (2, T, H, W) flow
    out = to_uint8_frames(clip, None)
    assert out.shape == (2, 2, 2, 3) and out[..., 0].min() == 0 and out[..., 0].max() == 255
    assert (out[..., 2] == 0).all()  # (u, v) -> red, green
    grey = to_uint8_frames(torch.rand(1, 2, 3, 3), None)
    assert (grey[..., 0] == grey[..., 2]).all()
    with pytest.raises(ValueError, match="4 channels"):
        to_uint8_frames(torch.rand(4, 2, 3, 3), None)


def test_contact_sheet_wraps_rows() -> None:
    sheet = contact_sheet(np.zeros((10, 4, 5, 3), np.uint8), columns=8, gap=2)
    assert sheet.size == (8 * 5 + 7 * 2, 2 * 4 + 2)


def test_label_text() -> None:
    names = ["run", "jump", "swim"]
    assert label_text(1, names) == "jump" and label_text(torch.tensor(7), names) == "7"
    assert label_text(torch.tensor([1.0, 0.0, 1.0]), names) == "run+swim"
    assert label_text(torch.tensor([0.5, 0.5, 0.0]), names) == "mixed"
    assert label_text(torch.zeros(3), None) == "none"


def test_choose_indices_through_wrappers_and_tuples() -> None:
    class WithIds(list):
        video_ids = [10, 10, 11, 12]

    base = WithIds([None] * 4)
    sub = Subset(base, [2, 3])  # videos 11, 12
    assert choose_indices(sub, 1, [12], False, 0) == [1]
    with pytest.raises(ValueError, match=r"\[10\] are not in this split"):
        choose_indices(sub, 1, [10], False, 0)
    joined = ConcatDataset([base, sub])
    assert choose_indices(joined, 1, [12, 10], False, 0) == [3, 5, 0, 1]
    tuples = [(None, 7, 0), (None, 8, 0)]  # samples without a video_id key: read through video_id_of
    assert choose_indices(tuples, 1, [8], False, 0, video_id_of=lambda i: tuples[i][1]) == [1]


def test_choose_indices_without_video_ids_attribute() -> None:
    ds = [{"video_id": v} for v in (3, 3, 1, 2)]
    assert choose_indices(ds, 8, [3, 2], False, 0) == [0, 1, 3]
    assert choose_indices(ds, 2, None, False, 0) == [0, 1]
    assert choose_indices(ds, 2, None, True, 0) == choose_indices(ds, 2, None, True, 0)  # seeded
    picks = {tuple(choose_indices(ds, 2, None, True, seed)) for seed in range(8)}
    assert len(picks) > 1 and all(len(set(p)) == 2 and set(p) <= {0, 1, 2, 3} for p in picks)  # shuffled
    with pytest.raises(ValueError, match="empty"):
        choose_indices([], 1, None, False, 0)
