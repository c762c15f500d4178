"""vai-data: video decoding, frame sampling, clip transforms, datasets and split files for action recognition."""

from .datasets import FeatureDataset, ImageDataset, VideoClipDataset
from .decode import BACKENDS, probe_num_frames, probe_video, read_frames
from .errors import VideoDecodeError
from .frame_extraction import FrameExtractionError, extract_frames, extract_frames_tree
from .frame_sources import FrameFolderSource, VideoFileSource
from .gulp import GulpDirectory, GulpSource
from .jpeg import JPEG_BACKEND, decode_jpeg, encode_jpeg
from .memory import keep_freed_memory
from .packed import LmdbSource, PackedFile, PackedFileSource, write_packed
from .packing import pack_split
from .pathio import get_path_manager, path_manager
from .sampling import add_neighbours, dense_indices, sparse_indices, sparse_indices_with_neighbours
from .split_file import (
    FORMAT_COLUMNS,
    SplitFile,
    SplitFormatError,
    SplitRow,
    read_split_file,
    write_split_file,
)
from .synth import SYNTH_CLASSES, SYNTH_FLIP_LABEL_MAP, SyntheticDataset, make_synthetic_dataset
from .transforms import DeviceNormalize, collate_clips

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "FORMAT_COLUMNS",
    "JPEG_BACKEND",
    "SYNTH_CLASSES",
    "SYNTH_FLIP_LABEL_MAP",
    "add_neighbours",
    "collate_clips",
    "decode_jpeg",
    "DeviceNormalize",
    "dense_indices",
    "encode_jpeg",
    "extract_frames",
    "extract_frames_tree",
    "FeatureDataset",
    "FrameExtractionError",
    "FrameFolderSource",
    "get_path_manager",
    "GulpDirectory",
    "GulpSource",
    "ImageDataset",
    "keep_freed_memory",
    "LmdbSource",
    "make_synthetic_dataset",
    "pack_split",
    "PackedFile",
    "PackedFileSource",
    "path_manager",
    "probe_num_frames",
    "probe_video",
    "read_frames",
    "read_split_file",
    "sparse_indices",
    "sparse_indices_with_neighbours",
    "SplitFile",
    "SplitFormatError",
    "SplitRow",
    "SyntheticDataset",
    "VideoClipDataset",
    "VideoDecodeError",
    "VideoFileSource",
    "write_packed",
    "write_split_file",
]
