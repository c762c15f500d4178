import pytest
from vai_data import SplitFormatError, SplitRow, read_split_file, write_split_file


def _write(tmp_path, text, name="s.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_video_format_roundtrip(tmp_path):
    rows = [SplitRow("a.mp4", 1, 3, 0, 9, 320, 240), SplitRow("b.webm", 2, 0, 2, 5, 64, 48)]
    p = tmp_path / "sub" / "dir" / "train.csv"
    write_split_file(p, rows, "video")
    assert p.read_text().splitlines() == ["0", "a.mp4 1 3 0 9 320 240", "b.webm 2 0 2 5 64 48"]
    sf = read_split_file(p)
    assert sf.fmt == "video" and sf.num_classes == 0 and not sf.multilabel
    assert sf.rows == rows


def test_format_inference(tmp_path):
    assert read_split_file(_write(tmp_path, "0\nuid/{:05d}.jpg 7 2 1 37\n")).fmt == "frames"
    assert read_split_file(_write(tmp_path, "0\nP01_01_0 7 2 0 30\n")).fmt == "gulp"
    sf = read_split_file(_write(tmp_path, "0\nimg/x.jpg 7 2\n"))
    assert sf.fmt == "image" and sf.rows[0] == SplitRow("img/x.jpg", 7, 2)


def test_multilabel(tmp_path):
    sf = read_split_file(
        _write(tmp_path, "20\nCATER_new_005000/{:05d}.jpg 5000 3,17 0 300\nx/{:05d}.jpg 1 4 0 3\n")
    )
    assert sf.multilabel and sf.num_classes == 20
    assert sf.rows[0].label == (3, 17) and sf.rows[1].label == (4,)
    out = tmp_path / "w.csv"
    write_split_file(out, sf.rows, "frames", num_classes=20)
    assert out.read_text().splitlines()[1] == "CATER_new_005000/{:05d}.jpg 5000 3,17 0 300"


@pytest.mark.parametrize(
    "text,match",
    [
        ("0\na.mp4 1 3 0 9 320\n", r"s\.csv:2: 6 columns; expected"),
        ("0\na.mp4 x 3 0 9 320 240\n", r"s\.csv:2: video_id 'x' is not an integer; expected 7"),
        ("0\na.mp4 1 3,4 0 9 320 240\n", r"s\.csv:2: .*several classes.*; expected 7 space-separated"),
        ("5\na/{:05d}.jpg 1 2,,3 0 9\n", r"s\.csv:2: label '2,,3' has an empty class.*; expected 5"),
        ("5\na/{:05d}.jpg 1 2,3, 0 9\n", r"s\.csv:2: label '2,3,' has an empty class"),
        ("5\na/{:05d}.jpg 1 3,9 0 9\n", r"s\.csv:2: label 9 is outside \[0, 5\)"),
        ("abc\n", r"s\.csv:1: header 'abc'"),
        ("0\n\na/{:05d}.jpg 1 3 9 2\n", r"s\.csv:3: frame range 9\.\.2 .*; expected 0 <= start <= end in 5"),
        ("0\nimg/x.jpg y 1\n", r"s\.csv:2: image_id 'y' is not an integer; expected 3"),
        ("0\na b\n", r"s\.csv:2: 2 columns; expected 7 \(video\)"),
        ("", r"s\.csv:1: missing header"),
        # a frames row whose pattern names no frame number: every frame would read one file
        (
            "0\na/{:05d}.jpg 1 3 0 9\nb/x.jpg 2 3 0 9\n",
            r"s\.csv:3: frames pattern 'b/x\.jpg' has no frame-number",
        ),
        (
            "0\na/{:05d}.jpg 1 3 0 9\nb/{flow_direction}/x.jpg 2 3 0 9\n",
            r"s\.csv:3: frames pattern .* has no frame",
        ),
        (
            "0\na/{:05d}.jpg 1 3 0 9\nb/{:05d.jpg 2 3 0 9\n",
            r"s\.csv:3: frames pattern 'b/\{:05d\.jpg' is not a valid",
        ),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, text, match):
    with pytest.raises(SplitFormatError, match=match):
        read_split_file(_write(tmp_path, text))


def test_frame_patterns_that_name_the_frame_number_are_accepted(tmp_path):
    text = "0\na/{:05d}.jpg 1 3 0 9\nb/img_{frame:05d}.jpg 2 3 1 9\nc/{:d}.jpg 3 3 1 9\nd/{flow_direction}/{:05d}.jpg 4 3 0 9\n"
    assert [r.video_id for r in read_split_file(_write(tmp_path, text)).rows] == [1, 2, 3, 4]


def test_explicit_format_mismatch(tmp_path):
    with pytest.raises(
        SplitFormatError, match=r":2: 5 columns; expected 7 space-separated columns 'path video_id"
    ):
        read_split_file(_write(tmp_path, "0\na/{:05d}.jpg 1 3 0 9\n"), fmt="video")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_split_file(tmp_path / "nope.csv")


def test_write_is_atomic_and_validates(tmp_path):
    p = tmp_path / "a.csv"
    with pytest.raises(ValueError, match="needs width and height"):
        write_split_file(p, [SplitRow("a.mp4", 1, 0, 0, 3)], "video")
    assert not p.exists()
    assert not list(tmp_path.iterdir())  # no temp file left behind


def test_byte_order_mark_and_non_utf8(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes("\ufeff3\nx/{:05d}.jpg 1 0,2 0 3\n".encode())  # as Windows editors save "UTF-8 with BOM"
    sf = read_split_file(p)
    assert sf.num_classes == 3 and sf.rows[0].label == (0, 2)
    p.write_bytes(b"0\nx/\xff.jpg 1 0 0 3\n")
    with pytest.raises(SplitFormatError, match=r"bom\.csv:2: not UTF-8 text"):
        read_split_file(p)


@pytest.mark.parametrize(
    "row,fmt,header,match",
    [
        (SplitRow("a/{:05d}.jpg", 1, (3, 4), 0, 9), "frames", 0, r"several classes but the header is 0"),
        (SplitRow("a/{:05d}.jpg", 1, 3, 9, 2), "frames", 0, r"frame range 9\.\.2 is empty"),
        (SplitRow("a.mp4", "x1", 3, 0, 9, 8, 8), "video", 0, r"video_id 'x1' is not an integer"),
        (SplitRow("a.mp4", 1.5, 3, 0, 9, 8, 8), "video", 0, r"video_id '1\.5' is not an integer"),
        (SplitRow("a/{:05d}.jpg", 1, (1, 7), 0, 9), "frames", 5, r"label 7 is outside \[0, 5\)"),
        (SplitRow("a/{:05d}.jpg", 1, (), 0, 9), "frames", 5, r"empty label"),
        (SplitRow("a/{:05d}.jpg", 1, -1, 0, 9), "frames", 0, r"negative label -1"),
        (SplitRow("a b.jpg", 1, 0), "image", 0, r"contains whitespace"),
        (SplitRow("a.jpg", 1, "3"), "image", 0, r"label '3' must be an int"),
        (SplitRow("a.jpg", 1, [1, "2"]), "image", 5, r"must hold class numbers"),
    ],
)
def test_writer_refuses_rows_the_reader_would_reject(tmp_path, row, fmt, header, match):
    p = tmp_path / "out.csv"
    good = SplitRow("ok/{:05d}.jpg", 0, 1, 0, 3, 8, 8) if fmt != "image" else SplitRow("ok.jpg", 0, 1)
    with pytest.raises(ValueError, match=rf"out\.csv: rows\[1\]: .*{match}"):
        write_split_file(p, [good, row], fmt, num_classes=header)
    assert not list(tmp_path.iterdir())  # nothing written, not even a partial or temporary file


def test_writer_output_always_reads_back(tmp_path):
    import numpy as np

    rows = [SplitRow("a/{:05d}.jpg", 3, (0, 2), 1, 4), SplitRow("b/{:05d}.jpg", 4, (1,), 0, 0)]
    rows += [SplitRow("c/{:05d}.jpg", 5, [1, 2], 0, 1), SplitRow("d/{:05d}.jpg", 6, np.array([0, 1]), 0, 1)]
    write_split_file(tmp_path / "m.csv", rows, "frames", num_classes=3)
    assert [r.label for r in read_split_file(tmp_path / "m.csv").rows] == [(0, 2), (1,), (1, 2), (0, 1)]
    write_split_file(tmp_path / "s.csv", [SplitRow("e.jpg", 0, np.int64(2))], "image")
    assert read_split_file(tmp_path / "s.csv").rows[0].label == 2
    with pytest.raises(ValueError, match="num_classes -1 must be an integer >= 0"):
        write_split_file(tmp_path / "n.csv", rows, "frames", num_classes=-1)


def test_writer_writes_utf8_whatever_the_locale(tmp_path, monkeypatch):
    import io
    import locale

    # a Latin-1 locale: what text files opened without encoding= use (os.fdopen asks io.text_encoding)
    monkeypatch.setattr(io, "text_encoding", lambda encoding, stacklevel=2: encoding or "latin-1")
    monkeypatch.setattr(locale, "getpreferredencoding", lambda do_setlocale=True: "ISO-8859-1")
    rows = [SplitRow("café/{:05d}.jpg", 0, 1, 0, 3), SplitRow("Ünïcødé/{:05d}.jpg", 1, 0, 0, 2)]
    p = tmp_path / "s.csv"
    write_split_file(p, rows, "frames")
    assert p.read_bytes() == "0\ncafé/{:05d}.jpg 0 1 0 3\nÜnïcødé/{:05d}.jpg 1 0 0 2\n".encode()
    assert read_split_file(p).rows == rows


def test_packed_rows_are_written_as_gulp_and_the_frames_refusal_says_so(tmp_path):
    p = tmp_path / "packed.csv"
    with pytest.raises(
        SplitFormatError,
        match=r"rows\[0\]: frames pattern 'a\.vpk' has no frame-number placeholder.* fmt 'gulp'",
    ):
        write_split_file(p, [SplitRow("a.vpk", 1, 0, 0, 12)], "frames")
    write_split_file(p, [SplitRow("a.vpk", 1, 0, 0, 12), SplitRow("b", 2, 1, 0, 3)], "gulp")  # .vpk, LMDB key
    sf = read_split_file(p)
    assert sf.fmt == "gulp" and sf.rows[0] == SplitRow("a.vpk", 1, 0, 0, 12)


def test_a_handler_path_without_its_folder_is_one_line(tmp_path):
    import os

    from iopath.common.file_io import PathHandler
    from vai_data import path_manager

    class _Prefix(PathHandler):
        def _get_supported_prefixes(self):
            return ["vaisplit://"]

        def _local(self, path):
            return os.path.join(str(tmp_path), path[len("vaisplit://") :])

        def _open(self, path, mode="r", buffering=-1, **kwargs):
            return open(self._local(path), mode)

        def _exists(self, path, **kwargs):
            return os.path.exists(self._local(path))

    path_manager.register_handler(_Prefix(), allow_override=True)
    rows = [SplitRow("a.mp4", 1, 0, 0, 3, 8, 8)]
    with pytest.raises(
        FileNotFoundError,
        match=r"^cannot write split file vaisplit://new/s\.csv through its iopath handler .*"
        r"create its folder first$",
    ):
        write_split_file("vaisplit://new/s.csv", rows, "video")
    (tmp_path / "new").mkdir()
    write_split_file("vaisplit://new/s.csv", rows, "video")
    assert read_split_file("vaisplit://new/s.csv").rows == rows
