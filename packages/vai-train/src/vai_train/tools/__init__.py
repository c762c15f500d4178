"""Analysis commands on a run's files: ``vai-train confusion`` (per-class accuracy and confusion matrices
from saved predictions) and ``vai-train visualise`` (what the model is fed, as GIFs and contact sheets)."""
