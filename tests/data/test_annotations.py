import re

import openpyxl
import pytest

from mer.data.annotations import UNLABELLED, AnnotationError, parse_aus, read_canonical_csv
from mer.data.sheets import read_sheet
from tests.conftest import write_frame_folder, write_test_video

MEGC3 = dict(
    classes=["negative", "positive", "surprise"],
    class_map={"disgust": "negative", "happiness": "positive", "others": None},
)


@pytest.fixture
def root(tmp_path):
    write_frame_folder(tmp_path / "sub01" / "EP01", range(101, 121))
    write_test_video(tmp_path / "sub02" / "clip.mp4", 30)
    return tmp_path


def write_csv(root, *rows, header="subject,clip,onset,apex,offset,emotion,au"):
    path = root / "annotations.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_reads_frame_folders_and_videos_into_samples(root):
    path = write_csv(root, "sub01,sub01/EP01,101,110,120,Disgust,4+7", "sub02,sub02/clip.mp4,0,,29,surprise,")
    first, second = read_canonical_csv(path, root=root, dataset="toy", **MEGC3)
    assert (first.subject, first.onset, first.apex, first.offset, first.label) == ("sub01", 101, 110, 120, 0)
    assert first.path == root / "sub01" / "EP01" and first.aus == ("4", "7") and first.dataset == "toy"
    assert (second.apex, second.label, second.emotion, second.aus) == (None, 2, "surprise", ())


def test_mapping_to_null_leaves_samples_out(root):
    path = write_csv(root, "sub01,sub01/EP01,101,110,120,others,", "sub02,sub02/clip.mp4,0,5,29,happiness,")
    assert [s.label for s in read_canonical_csv(path, root=root, dataset="toy", **MEGC3)] == [1]


def test_tools_that_need_no_class_keep_rows_with_an_empty_or_unknown_emotion(root):
    path = write_csv(root, "sub01,sub01/EP01,101,110,120,,", "sub02,sub02/clip.mp4,0,5,29,unknown,")
    with pytest.raises(AnnotationError, match="line 2: unknown emotion ''"):  # training refuses them
        read_canonical_csv(path, root=root, dataset="toy", **MEGC3)
    kept = read_canonical_csv(path, root=root, dataset="toy", labelled=False, **MEGC3)
    assert [(s.emotion, s.label) for s in kept] == [("", UNLABELLED), ("unknown", UNLABELLED)]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "sub01,sub01/EP09,101,110,120,disgust,",
            "line 3: .*EP09: frame folder not found|line 3: .*EP09: clip not found",
        ),
        ("sub01,sub01/EP01,101,125,120,disgust,", "line 3: needs onset <= apex <= offset"),
        ("sub01,sub01/EP01,115,110,120,disgust,", "line 3: needs onset <= apex <= offset"),
        ("sub01,sub01/EP01,101,110,140,disgust,", r"line 3: frames 101\.\.140 outside the clip's 101\.\.120"),
        ("sub02,sub02/clip.mp4,0,10,30,disgust,", r"line 3: frames 0\.\.30 outside the clip's 0\.\.29"),
        ("sub01,sub01/EP01,101,110,120,joy,", "line 3: unknown emotion 'joy'"),
        ("sub01,sub01/EP01,a,110,120,disgust,", "line 3: frame numbers must be integers"),
    ],
)
def test_broken_rows_name_the_file_and_line(root, row, message):
    path = write_csv(root, "sub02,sub02/clip.mp4,0,5,29,happiness,", row)
    with pytest.raises(AnnotationError, match=rf"annotations\.csv, {message}"):
        read_canonical_csv(path, root=root, dataset="toy", **MEGC3)


def test_missing_columns_and_files_are_named(root):
    path = write_csv(root, "sub01,sub01/EP01,101,120", header="subject,clip,onset,offset")
    with pytest.raises(AnnotationError, match=r"line 1: missing columns \['apex', 'emotion'\]"):
        read_canonical_csv(path, root=root, dataset="toy", **MEGC3)
    with pytest.raises(AnnotationError, match="nope.csv: annotation file not found"):
        read_canonical_csv(root / "nope.csv", root=root, dataset="toy", **MEGC3)


def test_parse_aus():
    assert parse_aus("AU4+AU7") == ("4", "7")
    assert parse_aus("L12") == ("L12",)
    assert parse_aus("") == ()


def test_intervals_of_one_video_get_distinct_ids_and_a_repeated_interval_names_both_lines(root):
    path = write_csv(
        root,
        "sub01,sub01/EP01,101,105,110,disgust,",
        "sub01,sub01/EP01,111,115,120,happiness,",
        "sub02,sub02/clip.mp4,0,5,29,happiness,",
    )
    ids = [s.id for s in read_canonical_csv(path, root=root, dataset="toy", **MEGC3)]
    assert ids == ["sub01/EP01#101-110", "sub01/EP01#111-120", "sub02/clip.mp4"]
    path = write_csv(root, "sub01,sub01/EP01,101,105,110,disgust,", "sub01,sub01/EP01,101,106,110,disgust,")
    with pytest.raises(AnnotationError, match=r"line 3: the same interval 101\.\.110 .* as .*line 2"):
        read_canonical_csv(path, root=root, dataset="toy", **MEGC3)


def test_skipping_bad_rows_keeps_the_good_ones_and_lists_each_skipped_line(root):
    path = write_csv(
        root,
        "sub01,sub01/EP01,101,105,110,disgust,",
        "sub01,sub01/EP01,101,110,140,disgust,",  # frames outside the clip
        "sub02,sub02/clip.mp4,0,5,29,joy,",  # unknown emotion
        "sub02,sub02/clip.mp4,0,5,29,others,",  # left out by the class map: no note
    )
    got = read_canonical_csv(path, root=root, dataset="toy", on_bad_row="skip", **MEGC3)
    assert [s.id for s in got] == ["sub01/EP01"]
    assert [n.removeprefix(f"{path}, ") for n in got.notes] == [
        f"line 3: skipped, frames 101..140 outside the clip's 101..120 ({root / 'sub01' / 'EP01'})",
        "line 4: skipped, unknown emotion 'joy'; known: disgust, happiness, negative, others, positive, surprise",
    ]


HEADER = "subject,clip,onset,apex,offset,emotion,au\n"


def test_a_csv_saved_by_excel_with_a_byte_order_mark_reads(root):
    path = root / "annotations.csv"
    path.write_text(HEADER + "sub01,sub01/EP01,101,110,120,disgust,4\n", encoding="utf-8-sig")
    (sample,) = read_canonical_csv(path, root=root, dataset="toy", **MEGC3)
    assert (sample.subject, sample.onset, sample.aus) == ("sub01", 101, ("4",))


def test_line_numbers_are_the_files_own_after_blank_lines(root):
    path = root / "annotations.csv"
    path.write_text(HEADER + "\nsub02,sub02/clip.mp4,0,5,29,happiness,\n\n\nsub01,sub01/EP01,101,110,120,joy,\n")
    with pytest.raises(AnnotationError, match=r"annotations\.csv, line 6: unknown emotion 'joy'"):
        read_canonical_csv(path, root=root, dataset="toy", **MEGC3)


def _latin1(path):
    path.write_bytes((HEADER + "sub01,sub01/EP01,101,110,120,d\xe9go\xfbt,\n").encode("latin-1"))


def _workbook(path):
    book = openpyxl.Workbook()
    book.active.append(HEADER.strip().split(","))
    book.save(path)


@pytest.mark.parametrize(
    ("write", "said"),
    [(_latin1, r"line 2: not UTF-8 text \(byte 0xe9\); save it as CSV \(UTF-8\)"), (_workbook, "an Excel workbook")],
    ids=["latin-1", "xlsx-named-csv"],
)
@pytest.mark.parametrize("reader", ["canonical", "release-sheet"])
def test_a_csv_that_is_not_utf8_text_is_named_in_one_line(root, write, said, reader):
    path = root / "annotations.csv"
    write(path)
    with pytest.raises(AnnotationError, match=rf"^{re.escape(str(path))}(, line \d+)?: .*") as error:
        if reader == "canonical":
            read_canonical_csv(path, root=root, dataset="toy", **MEGC3)
        else:
            read_sheet(path, header_hint="clip")
    assert re.search(said, str(error.value)) and "\n" not in str(error.value)
