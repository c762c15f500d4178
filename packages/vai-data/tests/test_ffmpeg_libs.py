"""``vai-data link-ffmpeg``: PyAV's bundled FFmpeg under the plain names torchcodec looks for."""

import os

import pytest
from vai_data.cli import main
from vai_data.ffmpeg_libs import link_pyav_ffmpeg, pyav_library_dir


def _fake_av_libs(folder):
    os.makedirs(folder)
    names = [
        "libavutil-5809ad29.so.60.26.102",
        "libavcodec-5e6b81c2.so.62.28.102",
        "libswscale-0a1b2c3d.so.9.1.100",
        "libx264-abcdef01.so.165",
        "libopencore-amrnb-d72c52e2.so.0.0.5",
        "README.txt",
    ]
    for n in names:
        with open(os.path.join(folder, n), "w") as f:
            f.write(n)
    return folder


def test_links_each_bundled_library_under_its_plain_soname(tmp_path):
    src = _fake_av_libs(str(tmp_path / "av.libs"))
    path = link_pyav_ffmpeg(tmp_path / "links", src)
    assert path == f"{tmp_path / 'links'}{os.pathsep}{src}"
    got = sorted(os.listdir(tmp_path / "links"))
    # FFmpeg's own libraries only: libx264 & co. stay reachable under their mangled names in av.libs
    assert got == ["libavcodec.so.62", "libavutil.so.60", "libswscale.so.9"]
    with open(tmp_path / "links" / "libavutil.so.60") as f:
        assert f.read() == "libavutil-5809ad29.so.60.26.102"
    link_pyav_ffmpeg(tmp_path / "links", src)  # re-running replaces the links
    assert sorted(os.listdir(tmp_path / "links")) == got


def test_a_folder_without_ffmpeg_is_one_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no FFmpeg libraries"):
        link_pyav_ffmpeg(tmp_path / "links", str(tmp_path / "empty"))


def test_the_installed_pyav_and_the_cli(tmp_path, capsys):
    try:
        src = pyav_library_dir()
    except FileNotFoundError:
        pytest.skip("this PyAV uses a system FFmpeg")
    assert any(n.startswith("libavutil-") for n in os.listdir(src))
    assert main(["link-ffmpeg", str(tmp_path / "l"), "--print-path"]) == 0
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'l'}{os.pathsep}{src}"
    assert any(n.startswith("libavutil.so.") for n in os.listdir(tmp_path / "l"))
    assert main(["link-ffmpeg", str(tmp_path / "l")]) == 0
    assert capsys.readouterr().out.startswith(f"export LD_LIBRARY_PATH={tmp_path / 'l'}{os.pathsep}{src}")


def test_a_failure_goes_to_stderr_so_eval_runs_nothing(tmp_path, capsys, monkeypatch):
    import vai_data.ffmpeg_libs as fl

    def no_libs():
        raise FileNotFoundError("no av.libs here")

    monkeypatch.setattr(fl, "pyav_library_dir", no_libs)
    assert main(["link-ffmpeg", str(tmp_path / "l")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "no av.libs here" in err


def test_a_file_as_the_folder_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    import vai_data.ffmpeg_libs as fl

    src = _fake_av_libs(str(tmp_path / "av.libs"))
    monkeypatch.setattr(fl, "pyav_library_dir", lambda: src)
    (tmp_path / "afile").write_text("")
    for target in (tmp_path / "afile", tmp_path / "afile" / "sub"):
        assert main(["link-ffmpeg", str(target)]) == 1
        out, err = capsys.readouterr()
        assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert err.startswith(f"vai-data link-ffmpeg: link folder {target}")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        link_pyav_ffmpeg(tmp_path / "afile", src)
