"""Run reporting: TensorBoard, matplotlib plots of summary.csv, safe prediction files, Telegram messages."""

from .plots import confusion_matrix_figure, family_basename, plot_confusion_matrix, plot_summary, save_figure
from .predictions import load_predictions, predictions_filename, save_predictions
from .summary_csv import Summary, read_summary
from .telegram import RunInfo, TelegramReporter, format_duration, format_report
from .tensorboard import TensorBoardLogger

__all__ = [
    "RunInfo",
    "Summary",
    "TelegramReporter",
    "TensorBoardLogger",
    "confusion_matrix_figure",
    "family_basename",
    "format_duration",
    "format_report",
    "load_predictions",
    "plot_confusion_matrix",
    "plot_summary",
    "predictions_filename",
    "read_summary",
    "save_figure",
    "save_predictions",
]
