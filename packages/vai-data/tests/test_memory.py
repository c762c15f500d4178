"""keep_freed_memory: glibc malloc keeps freed clip buffers for reuse (no page faults on the next sample)."""

import os
import platform
import subprocess
import sys
import textwrap

import pytest
import torch
from vai_data import ImageDataset, VideoClipDataset, keep_freed_memory, memory

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# holds 8 buffers of 2.8 MB at a time, as a worker holds a batch's clips, and counts page faults
_FAULTS = textwrap.dedent(
    """
    import importlib.util, resource, sys
    import numpy as np
    spec = importlib.util.spec_from_file_location("vai_data_memory", sys.argv[2])  # without torch's import time
    memory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(memory)
    tuned = memory.keep_freed_memory() if sys.argv[1] == "tune" else False
    def batch():
        held = [np.empty((8, 256, 455, 3), np.uint8) for _ in range(8)]
        for b in held:
            b.fill(1)
    for _ in range(3):
        batch()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        batch()
    print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def _faults(mode: str, **env: str) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _FAULTS, mode, memory.__file__],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not GLIBC, reason="mallopt tuning is glibc-only")
def test_held_buffers_stop_page_faulting_once_tuned():
    tuned, faults = _faults("tune")
    untuned_flag, untuned = _faults("plain")
    assert tuned == "True" and untuned_flag == "False"
    pages = 10 * 8 * (8 * 256 * 455 * 3) // 4096  # every buffer's pages, had they all faulted
    assert faults < pages // 20, (faults, untuned)
    assert untuned > pages // 2  # without it, glibc hands back fresh pages for each batch


@pytest.mark.skipif(not GLIBC, reason="mallopt tuning is glibc-only")
def test_env_var_turns_it_off():
    assert _faults("tune", VAI_DATA_KEEP_FREED_MEMORY="0")[0] == "False"


def test_bad_thresholds_raise_one_line():
    with pytest.raises(ValueError, match="thresholds must be >= 0 bytes"):
        keep_freed_memory(mmap_threshold=-1)


def test_not_glibc_is_left_alone(monkeypatch):
    monkeypatch.setattr(memory.platform, "libc_ver", lambda: ("", ""))
    assert keep_freed_memory() is False


def test_datasets_tune_once_per_process(monkeypatch, synth_root):
    calls = []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: calls.append(os.getpid()) or True)
    monkeypatch.setattr(memory, "_done_in_pid", None)
    split = os.path.join(synth_root, "splits", "train.csv")
    ds = VideoClipDataset(split, synth_root, train=True, num_frames=2, crop_size=16, scale_jitter=(20, 20))
    ds[0], ds[1]
    assert calls == [os.getpid()]
    monkeypatch.setattr(memory, "_done_in_pid", -1)  # as in a freshly forked worker
    ds[0]
    assert calls == [os.getpid(), os.getpid()]
    with pytest.raises(IndexError, match="out of range"):
        ds[len(ds)]
    assert ImageDataset.__getitem__ is VideoClipDataset.__getitem__  # one entry point for every split dataset
    assert torch.is_tensor(ds[0]["video"])
