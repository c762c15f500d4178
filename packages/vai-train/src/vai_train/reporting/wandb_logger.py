"""Optional Weights & Biases logging (the ``wandb`` extra): per-epoch summary rows as W&B metrics."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def _import_wandb() -> Any:
    try:
        import wandb
    except ImportError as e:
        raise ImportError("W&B logging needs wandb: pip install wandb (vai-train's [wandb] extra)") from e
    return wandb


class WandbLogger:
    """One W&B run per experiment version; ``run_id`` resumes the same W&B run when training resumes."""

    def __init__(
        self,
        project: str,
        run_dir: Path,
        name: str,
        entity: str | None = None,
        run_id: str | None = None,
        config: dict[str, Any] | None = None,
    ):
        wandb = _import_wandb()
        run_dir.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=project,
            entity=entity,
            id=run_id,
            resume="allow" if run_id else None,
            name=name,
            dir=str(run_dir),
            config=config or {},
        )
        logger.info("W&B run %s", getattr(self.run, "url", None) or getattr(self.run, "id", "?"))

    @property
    def url(self) -> str | None:
        return getattr(self.run, "url", None)

    def log(self, values: dict[str, Any], step: int) -> None:
        """Log the numeric entries of ``values`` (a summary.csv row) at ``step`` (the epoch)."""
        numeric = {k: v for k, v in values.items() if isinstance(v, (int, float)) and k != "epoch"}
        if numeric:
            self.run.log(numeric, step=step)

    def upload_weights(self, weights_dir: Path) -> list[str]:
        """``-WUM best_and_last`` (upstream's default): log ``best.pth`` and ``last.pth`` (the epoch files
        they point at) as W&B artifacts named ``best`` and ``last`` of type ``weights``."""
        wandb = _import_wandb()
        uploaded = []
        for name in ("best", "last"):
            link = Path(weights_dir) / f"{name}.pth"
            if not link.exists():
                continue
            target = link.resolve()
            artifact = wandb.Artifact(name, type="weights")
            artifact.add_file(str(target), name=target.name)
            self.run.log_artifact(artifact)
            uploaded.append(target.name)
        if uploaded:
            logger.info("W&B: uploaded %s", ", ".join(uploaded))
        return uploaded

    def finish(self) -> None:
        self.run.finish()
