"""Annotation files the split generators cannot read (wrong encoding, a stray CSV quote, a class missing
from train.csv): one error line naming the file and line, from Python and from the CLI; and a byte-order
mark accepted in every annotation format."""

from __future__ import annotations

import json

import pytest
from vai_data.splits import (
    AnnotationError,
    diving48_splits,
    epic100_verb_splits,
    hmdb51_splits,
    kinetics400_splits,
)
from vai_data_test_media import lines, make_frames, write_hmdb_lists

EPIC_HEADER = "narration_id,participant_id,video_id,narration,start_frame,stop_frame,verb_class\n"


def _epic_dir(tmp_path, train_text: str, encoding: str = "utf-8"):
    d = tmp_path / "ann"
    d.mkdir(exist_ok=True)
    (d / "EPIC_100_train.csv").write_text(train_text, encoding=encoding)
    (d / "EPIC_100_validation.csv").write_text(EPIC_HEADER + "P01_11_0,P01,P01_11,take hand,1,113,0\n")
    return d


def _cli_error(caplog, argv) -> str:
    """Run ``vai-data`` with ``argv``; assert it failed with exactly one one-line ERROR and return it."""
    from vai_data.cli import main

    caplog.clear()
    assert main(argv) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    return errors[0]


def test_latin1_byte_in_hmdb_list_names_file_and_line(tmp_path, caplog):
    write_hmdb_lists(tmp_path / "lists")
    (tmp_path / "lists" / "cartwheel_test_split1.txt").write_bytes(b"c1.avi 2\ncaf\xe9.avi 1\n")
    with pytest.raises(
        AnnotationError, match=r"cartwheel_test_split1\.txt:2: not UTF-8 text \(byte 0xe9 at column 4"
    ):
        hmdb51_splits(tmp_path / "lists", tmp_path / "out", splits=[1], frames_root=str(tmp_path))
    argv = ["splits", "hmdb51", str(tmp_path / "lists"), "-o", str(tmp_path / "o"), "--splits", "1"]
    assert "cartwheel_test_split1.txt:2: not UTF-8 text" in _cli_error(caplog, argv)


@pytest.mark.parametrize(
    "encoding,match",
    [
        ("utf-16", r"EPIC_100_train\.csv:1: UTF-16 text \(a UTF-16 byte-order mark starts it\)"),
        ("utf-16-le", r"EPIC_100_train\.csv:1: contains NUL bytes \(UTF-16 text\?\)"),
    ],
)
def test_utf16_epic_csv_names_file(tmp_path, caplog, encoding, match):
    d = _epic_dir(tmp_path, EPIC_HEADER + "P01_01_0,P01,P01_01,open door,8,202,3\n", encoding)
    with pytest.raises(AnnotationError, match=match):
        epic100_verb_splits(d, tmp_path / "out")
    assert "EPIC_100_train.csv:1:" in _cli_error(
        caplog, ["splits", "epic100", str(d), "-o", str(tmp_path / "o")]
    )


def test_stray_quote_in_epic_narration_names_its_line(tmp_path, caplog):
    rows = [f"P01_01_{i},P01,P01_01,open door {i},{i + 1},{i + 9},3\n" for i in range(3000)]
    rows[1] = (
        'P01_01_1,P01,P01_01,"open door,2,10,3\n'  # the quote swallows every later line (> 131072 chars)
    )
    d = _epic_dir(tmp_path, EPIC_HEADER + "".join(rows))
    match = r"EPIC_100_train\.csv:3: malformed CSV record \(field larger than field limit"
    with pytest.raises(AnnotationError, match=match):
        epic100_verb_splits(d, tmp_path / "out")
    message = _cli_error(caplog, ["splits", "epic100", str(d), "-o", str(tmp_path / "o")])
    assert "EPIC_100_train.csv:3: malformed CSV record" in message and "unmatched double quote" in message
    short = _epic_dir(
        tmp_path, EPIC_HEADER + "".join(rows[:40])
    )  # under the field limit: the quote runs to EOF
    match = r"EPIC_100_train\.csv:3: 4 fields but the header has 7 .*spans several lines: .*unmatched double quote"
    with pytest.raises(AnnotationError, match=match):
        epic100_verb_splits(short, tmp_path / "out")


def test_kinetics_val_class_absent_from_train_names_validate_line(tmp_path, caplog):
    d = tmp_path / "ann"
    d.mkdir()
    header = "label,youtube_id,time_start,time_end,split\n"
    (d / "train.csv").write_text(header + "abseiling,abc,10,20,train\n")
    (d / "validate.csv").write_text(header + "abseiling,xyz,1,11,val\nzumba,qqq,0,10,val\n")
    (tmp_path / "videos").mkdir()
    match = r"validate\.csv:3: clip qqq has class 'zumba', absent from train\.csv"
    with pytest.raises(AnnotationError, match=match):
        kinetics400_splits(d, tmp_path / "out", videos_root=str(tmp_path / "videos"))
    argv = [
        "splits",
        "kinetics400",
        str(d),
        "-o",
        str(tmp_path / "o"),
        "--videos-root",
        str(tmp_path / "videos"),
    ]
    assert "validate.csv:3: clip qqq" in _cli_error(caplog, argv)


def test_latin1_kinetics_test_csv_header_names_file(tmp_path):
    d = tmp_path / "ann"
    d.mkdir()
    (d / "train.csv").write_text("label,youtube_id,time_start,time_end,split\nabseiling,abc,10,20,train\n")
    (d / "test.csv").write_bytes(b"youtube_id,time_start,time_end,split,r\xe9gion\n")
    (tmp_path / "videos").mkdir()
    with pytest.raises(AnnotationError, match=r"test\.csv:1: not UTF-8 text \(byte 0xe9 at column 39"):
        kinetics400_splits(d, tmp_path / "out", videos_root=str(tmp_path / "videos"))


def test_byte_order_mark_accepted_in_json_csv_and_txt(tmp_path):
    d = tmp_path / "ann"
    d.mkdir()
    train = [{"vid_name": "a_1", "label": 3, "start_frame": 0, "end_frame": 9}]
    (d / "Diving48_V2_train.json").write_text(json.dumps(train), encoding="utf-8-sig")
    (d / "Diving48_V2_test.json").write_text(
        json.dumps([{"vid_name": "b_2", "label": 1}]), encoding="utf-8-sig"
    )
    for name in ("a_1", "b_2"):
        make_frames(tmp_path / "frames" / name, 2)
    written = diving48_splits(d, tmp_path / "out", mode="frames", frames_root=str(tmp_path / "frames"))
    assert lines(written["train"]) == ["0", "a_1/{:05d}.jpg 0 3 0 1"]
    epic = _epic_dir(tmp_path, EPIC_HEADER + "P01_01_0,P01,P01_01,open door,8,202,3\n", "utf-8-sig")
    assert lines(epic100_verb_splits(epic, tmp_path / "e")["train"]) == ["0", "P01_01_0 0 3 0 194"]
    write_hmdb_lists(tmp_path / "lists")
    (tmp_path / "lists" / "cartwheel_test_split1.txt").write_text(
        "c1.avi 2\nc2.avi 1\n", encoding="utf-8-sig"
    )
    for name in ("brush_hair/b1", "brush_hair/b2", "cartwheel/c1", "cartwheel/c2"):
        make_frames(tmp_path / "hf" / name, 2)
    hmdb = hmdb51_splits(tmp_path / "lists", tmp_path / "h", "gulp", [1], frames_root=str(tmp_path / "hf"))
    assert lines(hmdb["train1"])[2] == "cartwheel/c2 4 1 0 1"
