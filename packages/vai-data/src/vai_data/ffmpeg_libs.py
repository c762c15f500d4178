"""``vai-data link-ffmpeg``: let torchcodec load the FFmpeg libraries that PyAV's wheel bundles.

torchcodec needs FFmpeg's shared libraries (``libavutil.so.60`` ...) on the loader's path and bundles none;
clusters and containers often have no system FFmpeg and no root to install one. PyAV's manylinux wheel
ships a full FFmpeg in ``av.libs/``, but under hashed names (``libavutil-5809ad29.so.60.26.102``), which a
library looking for ``libavutil.so.60`` does not find. This links FFmpeg's bundled libraries under their plain
names (``lib<name>.so.<major>``) in a folder of your choice; with that folder and ``av.libs`` on
``LD_LIBRARY_PATH`` (set before Python starts: the loader reads it once) torchcodec finds them. The links
point at the very files PyAV loads, so one process holds one copy of each.

A system FFmpeg, where there is one, needs none of this; prefer it (``apt install ffmpeg`` or
``conda install ffmpeg``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys

# auditwheel's mangled names: lib<name>-<8 hex>.so.<major>[.<minor>...]
_MANGLED = re.compile(r"^(lib[\w+.-]+?)-[0-9a-f]{8}\.so\.(\d+)(?:\.\d+)*$")
# FFmpeg's own libraries, the ones torchcodec links against; their dependencies (libx264, libdrm, ...) keep
# their mangled names, found in av.libs itself, so no system library of the same name is shadowed
FFMPEG_LIBRARIES = frozenset(
    (
        "libavutil",
        "libavcodec",
        "libavformat",
        "libavdevice",
        "libavfilter",
        "libswscale",
        "libswresample",
        "libpostproc",
    )
)


def pyav_library_dir() -> str:
    """The folder of FFmpeg libraries bundled with the installed PyAV wheel."""
    import av

    site = os.path.dirname(os.path.dirname(os.path.abspath(av.__file__)))
    folder = os.path.join(site, "av.libs")
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"no {folder}: only PyAV's Linux (manylinux) wheels bundle FFmpeg there; a PyAV built from source "
            "uses a system FFmpeg, which torchcodec loads as it is (elsewhere install FFmpeg, e.g. conda "
            "install ffmpeg)"
        )
    return folder


def link_pyav_ffmpeg(target: str | os.PathLike, source: str | None = None) -> str:
    """Link FFmpeg's libraries in ``source`` (default :func:`pyav_library_dir`) into ``target`` under their
    plain names; returns the ``LD_LIBRARY_PATH`` value to use (``target:source``: the links, then the folder
    that holds their dependencies under the mangled names they ask for). Re-running refreshes the links.
    A ``target`` that is a file (or inside one) raises one ``NotADirectoryError`` line."""
    from .pathio import check_folder_target

    source = os.path.abspath(source or pyav_library_dir())
    target = os.path.abspath(os.fspath(target))
    check_folder_target(target, "link folder")
    os.makedirs(target, exist_ok=True)
    for name in sorted(os.listdir(source)):
        m = _MANGLED.match(name)
        if m is None or m.group(1) not in FFMPEG_LIBRARIES:
            continue
        link = os.path.join(target, f"{m.group(1)}.so.{m.group(2)}")
        if os.path.islink(link) or os.path.exists(link):
            os.remove(link)
        os.symlink(os.path.join(source, name), link)
    if not any(n.startswith("libavutil") for n in os.listdir(target)):
        raise FileNotFoundError(f"{source} holds no FFmpeg libraries (no libavutil-<hash>.so.<major>)")
    return f"{target}{os.pathsep}{source}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="where to create the links (created if missing)")
    parser.add_argument(
        "--print-path",
        action="store_true",
        help="print only the LD_LIBRARY_PATH value (for scripts), not the export line",
    )


def run(args: argparse.Namespace) -> int:
    try:
        path = link_pyav_ffmpeg(args.folder)
    except (OSError, ImportError) as e:  # (stderr: `eval "$(vai-data link-ffmpeg ...)"` must not run it)
        print(f"vai-data link-ffmpeg: {' '.join(str(e).splitlines())}", file=sys.stderr)
        return 1
    if args.print_path:
        print(path)
    else:
        old = os.environ.get("LD_LIBRARY_PATH")
        print(f"export LD_LIBRARY_PATH={path}" + (f"{os.pathsep}{old}" if old else ""))
    return 0
