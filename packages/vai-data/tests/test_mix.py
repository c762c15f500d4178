"""Mixup / CutMix collate on sample-dict batches: soft-target sums, box areas, shared boxes across frames."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader
from vai_data.transforms.mix import MixupCutmix, MixupCutmixCollate, cutmix_box, soft_targets

torch.set_num_threads(1)


def samples(n: int = 4, t: int = 2, hw: int = 8) -> list[dict]:
    return [
        {"video": torch.full((3, t, hw, hw), float(i)), "label": i % 3, "video_id": i, "spatial_idx": 0}
        for i in range(n)
    ]


def test_soft_targets_and_smoothing():
    t = soft_targets(torch.tensor([0, 2]), 4, smoothing=0.2)
    torch.testing.assert_close(t[0], torch.tensor([0.85, 0.05, 0.05, 0.05]))
    torch.testing.assert_close(t.sum(1), torch.ones(2))
    multi = soft_targets(torch.tensor([[1.0, 0, 1, 0]]), 4)
    assert torch.equal(multi, torch.tensor([[1.0, 0, 1, 0]]))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\)"):
        soft_targets(torch.tensor([4]), 4)
    with pytest.raises(ValueError, match="neither class indices"):
        soft_targets(torch.zeros(2, 3), 4)


def test_mixup_collate_mixes_video_and_labels():
    collate = MixupCutmixCollate(
        3, mixup_alpha=1.0, cutmix_alpha=0.0, label_smoothing=0.0, generator=torch.Generator().manual_seed(0)
    )
    batch = collate(samples())
    lam = batch["mix_lambda"]
    assert 0.0 <= lam <= 1.0 and batch["label"].shape == (4, 3)
    torch.testing.assert_close(batch["label"].sum(1), torch.ones(4))
    # sample 0 (value 0, label 0) is mixed with sample 3 (value 3, label 0): video = 3 * (1 - lam)
    torch.testing.assert_close(batch["video"][0], torch.full((3, 2, 8, 8), 3 * (1 - lam)))
    # sample 1 (label 1) with sample 2 (label 2)
    torch.testing.assert_close(batch["label"][1], torch.tensor([0.0, lam, 1 - lam]))
    assert batch["hard_label"].tolist() == [0, 1, 2, 0] and batch["video_id"].tolist() == [0, 1, 2, 3]


def test_cutmix_box_shared_across_frames_and_lambda_is_area():
    mix = MixupCutmix(
        3, mixup_alpha=0.0, cutmix_alpha=1.0, label_smoothing=0.0, generator=torch.Generator().manual_seed(3)
    )
    video = torch.stack([s["video"] for s in samples(n=2, t=3, hw=16)])
    labels = torch.tensor([0, 1])
    for _ in range(10):
        out, target, lam, box = mix(video, labels)
        y0, y1, x0, x1 = box
        area = (y1 - y0) * (x1 - x0)
        assert lam == pytest.approx(1 - area / 256)
        changed = out[0] != video[0]  # sample 0 is 0 everywhere, its partner 1
        assert int(changed.sum()) == area * 3 * 3  # the box, in every channel and every frame
        for f in range(3):
            assert torch.equal(changed[:, f], changed[:, 0])
        torch.testing.assert_close(target[0], torch.tensor([lam, 1 - lam, 0.0]))
        torch.testing.assert_close(target.sum(1), torch.ones(2))


def test_cutmix_box_geometry():
    import numpy as np

    rng = np.random.default_rng(0)
    for lam in (0.0, 0.3, 0.9, 1.0):
        y0, y1, x0, x1 = cutmix_box(20, 30, lam, rng)
        assert 0 <= y0 <= y1 <= 20 and 0 <= x0 <= x1 <= 30
        assert (y1 - y0) <= int(20 * (1 - lam) ** 0.5) and (x1 - x0) <= int(30 * (1 - lam) ** 0.5)


def test_prob_zero_only_smooths_and_multilabel_mix():
    mix = MixupCutmix(4, prob=0.0, label_smoothing=0.1)
    video = torch.rand(2, 3, 1, 4, 4)
    out, target, lam, box = mix(video, torch.tensor([1, 3]))
    assert out is video and lam == 1.0 and box is None
    torch.testing.assert_close(target[0], torch.tensor([0.025, 0.925, 0.025, 0.025]))
    mix = MixupCutmix(
        4, mixup_alpha=0.5, cutmix_alpha=0.0, label_smoothing=0.0, generator=torch.Generator().manual_seed(1)
    )
    multi = torch.tensor([[1.0, 1, 0, 0], [0, 0, 1, 0]])
    _, target, lam, _ = mix(video, multi)
    torch.testing.assert_close(target[0], torch.tensor([lam, lam, 1 - lam, 0.0]))


def test_reproducible_and_works_in_dataloader():
    def run(seed):
        collate = MixupCutmixCollate(3, generator=torch.Generator().manual_seed(seed))
        return [b["label"] for b in DataLoader(samples(n=8), batch_size=4, collate_fn=collate)]

    a, b = run(5), run(5)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True)) and len(a) == 2
    with pytest.raises(ValueError, match="dicts with 'video' and 'label'"):
        MixupCutmixCollate(3)([(torch.zeros(1), 0)])
    with pytest.raises(ValueError, match="num_classes must be positive"):
        MixupCutmix(0)


def test_empty_batch_is_a_clear_error():
    with pytest.raises(ValueError, match="MixupCutmixCollate got an empty batch"):
        MixupCutmixCollate(num_classes=3)([])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.uint8])
def test_mixup_keeps_float_dtypes_and_turns_uint8_into_float(dtype):
    mix = MixupCutmix(3, mixup_alpha=1.0, cutmix_alpha=0.0, generator=torch.Generator().manual_seed(0))
    video = torch.stack([s["video"] for s in samples()]).to(dtype)
    out, target, lam, box = mix(video, torch.tensor([0, 1, 2, 0]))
    assert out.dtype == (torch.float32 if dtype == torch.uint8 else dtype) and box is None
    want = video.float()[0] * lam + video.float()[3] * (1 - lam)
    torch.testing.assert_close(out[0].float(), want, atol=0.05, rtol=0.01)
