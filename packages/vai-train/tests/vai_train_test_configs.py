"""Exp-config variants of the tiny base experiment for vai-train's tests: written under a test's tmp_path,
with the CLI arguments that select them. A uniquely named module, not a test module (test directories of
several packages share one sys.path in a combined pytest run)."""

from __future__ import annotations

from pathlib import Path

BASE_EXP = Path(__file__).parent / "configs_tiny" / "exp_configs" / "tiny" / "tinynet-base.py"

# the tiny val videos, addressed as "<index>.vid": with_videos picks them (vai_data's reads real files)
PICKABLE_EXP = """# ruff: noqa: F821
include({base!r})


class Pickable(dataset_cfg.TinyDataset):
    def with_videos(self, paths):
        picked = [int(str(p).rsplit("/", 1)[-1].split(".")[0]) for p in paths]
        ds = dataset_cfg.TinyDataset(self.split, num_crops=self.num_crops)
        ds.videos, ds.labels = ds.videos[picked], torch.zeros(len(picked), dtype=torch.long)
        return ds


def get_torch_dataset(split):
    return Pickable(split, num_crops=2 if split == "multicropval" else 1)
"""


def exp_variant(tmp_path: Path, base_args: list[str], name: str, body: str) -> list[str]:
    """Write ``body`` (``{base!r}`` filled with the base experiment's path) as ``tinynet-<name>.py`` under
    ``tmp_path/cfg`` and return ``base_args`` selecting it (``-E <name>``, that config root first)."""
    folder = tmp_path / "cfg" / "exp_configs" / "tiny"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"tinynet-{name}.py").write_text(body.format(base=str(BASE_EXP)))
    return ["--config-root", str(tmp_path / "cfg"), *[a if a != "base" else name for a in base_args]]
