# Shared body of the dataset configs of real datasets, prepared beforehand with `vai-data splits` (see
# docs/datasets.md); nothing is ever downloaded. A dataset config sets the names below, then includes this
# file:  include("_prepared_dataset.py")
#   dataset_name      the folder under $VAI_DATA_ROOT, and the prefix of its environment variables
#   num_classes, task, split_file_basename, split2mode, horizontal_flip
#   storages          the storages its split generator (and `vai-data pack`) can produce
#   prepare_command   the `vai-data splits` command that prepares it; {splits} and {root} are filled in
#   prepare_note      optional: what the command's placeholders (ANNOTATIONS_DIR, ...) stand for
#   classes_hint      optional: what classes.txt needs beyond that command
#   split_notes       optional: {split: how its file comes about}, for splits the command alone does not write
#
# The dataset folder, $VAI_<NAME>_ROOT, else $VAI_DATA_ROOT/<dataset_name> (default ./data/<dataset_name>):
#   splits/            <split>.csv and classes.txt: the -o of `vai-data splits`
#   frames/            the --frames-root given to `vai-data splits` (JPEG frame folders)
#   videos/            the --videos-root (video files)
#   gulp/              the --gulp-root (GulpIO2 directory)
#   packed/            the --out of `vai-data pack --split <root>/splits/<split>.csv --data-root <root>/<media>`:
#                      packed/splits/<split>.csv with .vpk files, or an LMDB store in packed/frames.lmdb
# Any of them may be a symlink. $VAI_<NAME>_STORAGE picks the storage: auto (default: frames, videos or
# gulp, as the rows of splits/<split>.csv say; packed/ when only it holds the split), or one of `storages`.
# An exp config reads split_file(split) and media_root(split), e.g.
#   VideoClipDataset(dataset_cfg.split_file(split), dataset_cfg.media_root(split), train=..., ...)
import os
from pathlib import Path

from vai_data.split_file import parse_split_lines

_MEDIA_DIRS = {
    "frames": "frames",
    "video": "videos",
    "gulp": "gulp",
    "packed": "packed",
    "lmdb": "packed/frames.lmdb",
}
_ROW_STORAGE = {"frames": "frames", "video": "video", "gulp": "gulp"}  # split format -> storage
root_env = f"VAI_{dataset_name.upper()}_ROOT"
storage_env = f"VAI_{dataset_name.upper()}_STORAGE"
prepare_note = globals().get("prepare_note", "")
classes_hint = globals().get("classes_hint", "")
split_notes = globals().get("split_notes", {})

storage = os.environ.get(storage_env, "").strip() or "auto"
if storage not in ("auto", *storages):
    raise ValueError(
        f"{storage_env}={storage!r} is not a storage of {dataset_name}; use auto or one of {', '.join(storages)}"
    )


def data_dir() -> Path:
    """The dataset folder: $VAI_<NAME>_ROOT, else $VAI_DATA_ROOT/<dataset_name> (default ./data/...)."""
    explicit = os.environ.get(root_env, "").strip()
    if explicit:
        return Path(explicit).expanduser().resolve()
    return Path(os.environ.get("VAI_DATA_ROOT", "./data")).expanduser().resolve() / dataset_name


def prepare_hint() -> str:
    """How to prepare the data: the `vai-data splits` command with this machine's folders filled in."""
    root = data_dir()
    command = prepare_command.format(splits=root / "splits", root=root)
    note = f"{prepare_note}; " if prepare_note else ""
    return f"prepare it with `{command}` ({note}docs/datasets.md), or set {root_env} to a prepared folder"


def _missing(split: str, path: Path) -> str:
    """The one line for a missing split file: what makes it (split_notes), and the prepare command."""
    note = f"; {split_notes[split]}" if split in split_notes else ""
    return f"{dataset_name}: split file {path} not found (split {split!r}{note}); {prepare_hint()}"


def _basename(split: str) -> str:
    if split not in split_file_basename:
        raise KeyError(
            f"{dataset_name} has no split {split!r}; its splits are {', '.join(split_file_basename)}"
        )
    return split_file_basename[split]


def _row_format(path: Path) -> str | None:
    """The format (video/frames/gulp) of a split file's first row, read without parsing the whole file."""
    lines = []
    with path.open(encoding="utf-8-sig") as f:
        for line in f:
            lines.append(line)
            if len(lines) > 1 and line.strip():
                break
    if len(lines) < 2:
        return None  # a header and no rows
    return parse_split_lines(lines, name=str(path)).fmt


def resolve_storage(split: str = "train", storage: str | None = None) -> str:
    """The storage ``split`` is read from: ``storage``, else $VAI_<NAME>_STORAGE, else what the prepared
    split file holds (frames/video/gulp rows in splits/, or packed/splits/ with .vpk files or an LMDB)."""
    chosen = storage or globals()["storage"]
    if chosen not in ("auto", *storages):
        raise ValueError(f"storage {chosen!r} is not one of {dataset_name}'s: auto, {', '.join(storages)}")
    if chosen != "auto":
        return chosen
    root, name = data_dir(), _basename(split)
    if (root / "splits" / name).is_file():
        fmt = _row_format(root / "splits" / name)
        return _ROW_STORAGE.get(fmt, storages[0])
    if (root / "packed" / "splits" / name).is_file():
        return "lmdb" if (root / _MEDIA_DIRS["lmdb"] / "data.mdb").is_file() else "packed"
    raise FileNotFoundError(_missing(split, root / "splits" / name))


def split_file(split: str, storage: str | None = None) -> Path:
    """The split CSV of ``split`` (a key of split_file_basename); one error line when it is missing."""
    chosen = resolve_storage(split, storage)
    packed = chosen in ("packed", "lmdb")
    path = data_dir() / ("packed/splits" if packed else "splits") / _basename(split)
    if not path.is_file() and packed:
        raise FileNotFoundError(
            f"{dataset_name}: split file {path} not found (split {split!r}); pack "
            f"{data_dir() / 'splits' / path.name} into {data_dir() / 'packed'} with `vai-data pack`"
        )
    if not path.is_file():
        raise FileNotFoundError(_missing(split, path))
    if not packed:
        fmt = _row_format(path)
        if fmt is not None and fmt != chosen:
            raise ValueError(
                f"{dataset_name}: {path} holds {fmt} rows, not {chosen} rows; set {storage_env}={fmt} "
                f"(or auto), or regenerate it with --mode {chosen}"
            )
    return path


def media_root(split: str = "train", storage: str | None = None) -> Path:
    """The data root the paths of ``split``'s rows are relative to: frames/, videos/, gulp/ or packed/."""
    chosen = resolve_storage(split, storage)
    path = data_dir() / _MEDIA_DIRS[chosen]
    if not path.is_dir():
        raise FileNotFoundError(
            f"{dataset_name}: {chosen} folder {path} not found; put the data there (a symlink works): the "
            f"paths in {_basename(split)} are relative to it"
        )
    return path


def read_class_keys() -> list[str]:
    """The class names, one per label, from splits/classes.txt (written by `vai-data splits`)."""
    path = data_dir() / "splits" / "classes.txt"
    if not path.is_file():
        raise FileNotFoundError(
            f"{dataset_name}: class names {path} not found{classes_hint}; {prepare_hint()}"
        )
    names = [line.rstrip("\r\n") for line in path.read_text(encoding="utf-8-sig").splitlines()]
    names = [n for n in names if n.strip()]
    if len(names) != num_classes:
        raise ValueError(
            f"{dataset_name}: {path} lists {len(names)} classes, but {dataset_name} has {num_classes}; "
            f"{prepare_hint()}"
        )
    return names


def flip_label_map() -> dict:
    """No class changes under a horizontal flip (a dataset config with direction classes defines its own
    after including this file)."""
    return {}


def __getattr__(name: str):
    # class_keys is read on first use, so the config loads (and `vai-train list` works) before any data
    # is prepared, and an unprepared dataset fails with one line naming the command that prepares it
    if name == "class_keys":
        return read_class_keys()
    raise AttributeError(f"dataset config {dataset_name!r} has no attribute {name!r}")
