"""Split-file generators: official annotation files -> upstream split CSVs (``vai-data splits``)."""

from .cater import cater_class_names, cater_splits
from .common import AnnotationError, write_partial_splits
from .diving48 import diving48_splits
from .epic import epic55_verb_splits, epic100_verb_splits
from .hmdb import hmdb51_splits
from .imagenet import imagenet_splits
from .kinetics import kinetics400_splits
from .media_probe import MediaInfo, probe_frame_folder, probe_video_info
from .something import something_v1_splits, something_v2_splits
from .ucf101 import ucf101_splits

__all__ = [
    "AnnotationError",
    "MediaInfo",
    "cater_class_names",
    "cater_splits",
    "diving48_splits",
    "epic55_verb_splits",
    "epic100_verb_splits",
    "hmdb51_splits",
    "imagenet_splits",
    "kinetics400_splits",
    "probe_frame_folder",
    "probe_video_info",
    "something_v1_splits",
    "something_v2_splits",
    "ucf101_splits",
    "write_partial_splits",
]
