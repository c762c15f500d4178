"""A user-registered iopath handler serves split files, videos, frame folders and packed stores."""

import os
import pathlib
import shutil

import pytest
from iopath.common.file_io import PathHandler
from vai_data import VideoClipDataset, path_manager, read_frames, read_split_file
from vai_data.pathio import join


class MemPrefixHandler(PathHandler):
    """Maps ``vaitest://<rel>`` to a local directory, counting opens (like a remote store would)."""

    PREFIX = "vaitest://"

    def __init__(self, root):
        super().__init__()
        self.root, self.opens = root, 0

    def _get_supported_prefixes(self):
        return [self.PREFIX]

    def _local(self, path):
        return os.path.join(self.root, path[len(self.PREFIX) :])

    def _get_local_path(self, path, **kwargs):
        return self._local(path)

    def _open(self, path, mode="r", buffering=-1, **kwargs):
        self.opens += 1
        return open(self._local(path), mode)

    def _exists(self, path, **kwargs):
        return os.path.exists(self._local(path))

    def _isfile(self, path, **kwargs):
        return os.path.isfile(self._local(path))

    def _ls(self, path, **kwargs):
        return os.listdir(self._local(path))


@pytest.fixture(scope="module")
def handler(tmp_path_factory, synth_root):
    root = tmp_path_factory.mktemp("remote")
    shutil.copytree(synth_root, root / "ds")
    h = MemPrefixHandler(str(root))
    path_manager.register_handler(h, allow_override=True)
    return h


def _test_clips(split, root):
    """A 4-frame test dataset of 16-px centre crops."""
    return VideoClipDataset(split, root, train=False, num_frames=4, crop_size=16, test_scale=20)


def _pack_val_frames(root, out):
    from vai_data import pack_split

    return pack_split(
        os.path.join(root, "ds", "splits", "val_frames.csv"),
        os.path.join(root, "ds"),
        os.path.join(root, out),
    )


def test_join_url_roots():
    assert join("vaitest://ds", "videos/1.mp4") == "vaitest://ds/videos/1.mp4"
    assert join("/a", "b/c") == os.path.join("/a", "b/c")
    assert join("/a", "s3://x/y") == "s3://x/y"


@pytest.mark.parametrize(
    "root, rel",
    [
        ("/data", "v/1.mp4"),
        ("/data/", "v/1.mp4"),
        ("data", "v/1.mp4"),
        ("/data", "/abs/1.mp4"),
        ("/data", ""),
        ("/data", "./v/../1.mp4"),
        ("/", "x"),
    ],
)
def test_join_native_paths_is_os_path_join(root, rel):
    assert join(root, rel) == os.path.join(root, rel)
    assert join(pathlib.Path(root), pathlib.Path(rel) if rel else rel) == os.path.join(
        root, str(pathlib.Path(rel)) if rel else rel
    )


def test_join_without_a_root_is_the_path():
    assert join(None, "v/1.mp4") == join("", "v/1.mp4") == "v/1.mp4"


def test_split_and_video_through_handler(handler):
    before = handler.opens
    sf = read_split_file("vaitest://ds/splits/val.csv")
    assert handler.opens > before and sf.fmt == "video"
    clip = read_frames(f"vaitest://ds/{sf.rows[0].path}", [0, 1])
    assert clip.shape == (2, 32, 32, 3)


def test_frames_dataset_through_handler(handler):
    before = handler.opens
    ds = _test_clips("vaitest://ds/splits/val_frames.csv", "vaitest://ds")
    assert ds[0]["video"].shape == (3, 4, 16, 16)
    assert handler.opens - before >= 5  # split + 4 frames read through the handler


def test_packed_store_through_handler(handler):
    local = _pack_val_frames(handler.root, "packed")
    before = handler.opens
    remote = _test_clips(local, "vaitest://packed")
    native = _test_clips(local, os.path.join(handler.root, "packed"))
    assert remote.storage == "packed"
    got = remote[0]
    assert handler.opens - before >= 2  # the index and the frames, both through the handler
    assert got["video"].equal(native[0]["video"])


class BarePrefixHandler(MemPrefixHandler):
    """A handler whose prefix has no ``://`` (iopath accepts any prefix)."""

    PREFIX = "vaimem:"

    def _mkdirs(self, path, **kwargs):
        os.makedirs(self._local(path), exist_ok=True)


@pytest.fixture(scope="module")
def bare_handler(handler):
    h = BarePrefixHandler(handler.root)  # the same copied synthetic dataset
    path_manager.register_handler(h, allow_override=True)
    return h


def test_is_native_sees_registered_prefixes_without_a_scheme(bare_handler):
    from vai_data.pathio import is_native

    assert is_native("/data/v/1.mp4") and is_native("vaimem_not/x.mp4")
    assert not is_native("vaimem:ds/v.mp4") and not is_native("vaitest://ds/v.mp4")
    assert not is_native("s3://bucket/v.mp4")  # a scheme is never read with open()


def test_handler_prefix_without_scheme_serves_frames_packed_and_split_writes(bare_handler):
    from vai_data import write_split_file

    before = bare_handler.opens
    ds = _test_clips("vaimem:ds/splits/val_frames.csv", "vaimem:ds")
    assert ds[0]["video"].shape == (3, 4, 16, 16)
    assert bare_handler.opens - before >= 5  # split + 4 frames, none read behind the handler's back

    local = _pack_val_frames(bare_handler.root, "packed_bare")
    before = bare_handler.opens
    packed = _test_clips(local, "vaimem:packed_bare")
    assert packed.storage == "packed" and packed[0]["video"].equal(ds[0]["video"])
    assert bare_handler.opens - before >= 2

    before = bare_handler.opens
    write_split_file("vaimem:written.csv", ds.split.rows[:2], "frames", 0)
    assert bare_handler.opens == before + 1
    assert read_split_file(os.path.join(bare_handler.root, "written.csv")).rows == ds.split.rows[:2]
