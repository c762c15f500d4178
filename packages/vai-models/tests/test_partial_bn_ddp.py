"""partial_bn under DistributedDataParallel (gloo, 2 CPU processes), wrapped before train() as vai-train does."""

from __future__ import annotations

import os
import subprocess
import sys

WORKER = """
import sys
import torch
import torch.distributed as dist
import vai_models

rank, store = int(sys.argv[1]), sys.argv[2]
torch.set_num_threads(1)
dist.init_process_group("gloo", store=dist.FileStore(store, 2), rank=rank, world_size=2)
torch.manual_seed(0)
model = vai_models.create_model("tsn_resnet18", num_classes=3, num_frames=2, partial_bn=True)
# vai-train wraps first (find_unused_parameters=False) and calls train() in its epoch loop afterwards
ddp = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=False)
ddp.train()
opt = torch.optim.SGD([p for p in ddp.parameters() if p.requires_grad], lr=0.1)
torch.manual_seed(rank)
for step in range(2):
    loss = ddp(torch.randn(2, 3, 2, 32, 32)).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
    print(f"rank {rank} step {step} ok", flush=True)
dist.destroy_process_group()
"""


def test_partial_bn_trains_under_ddp_wrapped_before_train(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(sys.path))
    store = str(tmp_path / "store")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(rank), store],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(2)
    ]
    outs = []
    for proc in procs:
        try:
            outs.append(proc.communicate(timeout=240)[0])
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
    for rank, (proc, out) in enumerate(zip(procs, outs, strict=True)):
        assert proc.returncode == 0, out[-3000:]
        assert f"rank {rank} step 1 ok" in out, out[-3000:]
