"""vai_data's on-device steps on a CUDA GPU: uint8 batches pinned, moved and normalised there give the
CPU's values. Skipped where CUDA is not available (CI)."""

import pytest
import torch
from torch.utils.data import DataLoader
from vai_data import DeviceNormalize
from vai_data.transforms import Normalize, stack_channels_last

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _clips(n=4, c=3, t=4, h=16, w=12):
    g = torch.Generator().manual_seed(0)
    return [
        torch.randint(0, 256, (t, h, w, c), dtype=torch.uint8, generator=g).permute(3, 0, 1, 2)
        for _ in range(n)
    ]


@pytest.mark.parametrize(
    "norm",
    [
        Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), bgr=True),
        Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), greyscale=True),
        Normalize((114.75,), (57.375,), scale_255=False),
    ],
)
def test_device_normalize_on_cuda_matches_cpu(norm):
    batch = stack_channels_last(_clips())
    cpu = DeviceNormalize(norm)(batch)
    gpu = DeviceNormalize(norm)(batch.pin_memory().cuda(non_blocking=True))
    assert gpu.device.type == "cuda" and gpu.dtype == torch.float32
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-6, atol=1e-5)


def test_pinned_loader_batches_keep_channels_last_on_cuda():
    clips = _clips(6)
    loader = DataLoader(clips, batch_size=3, collate_fn=stack_channels_last, pin_memory=True)
    for i, batch in enumerate(loader):
        assert batch.is_pinned()
        on_gpu = batch.cuda(non_blocking=True)
        assert torch.equal(on_gpu.cpu(), torch.stack(clips[3 * i : 3 * i + 3]))
