import pytest

from mer.data.annotations import AnnotationError
from mer.data.errata import ERRATA_DIR, apply_errata, load_errata
from mer.data.sheets import samples_from_sheet
from tests.conftest import write_frame_folder

ROWS = [
    (2, {"Subject": "sp1", "Filename": "a", "Onset": "10", "Offset": "30"}),
    (3, {"Subject": "sp1", "Filename": "a", "Onset": "40", "Offset": "0"}),
    (4, {"Subject": "sp2", "Filename": "B", "Onset": 5, "Offset": 9}),
]


def write_errata(path, text):
    path.write_text("errata:\n" + text)
    return path


def test_corrections_and_drops_are_applied_and_noted_with_their_lines(tmp_path):
    errata = write_errata(
        tmp_path / "e.yaml",
        "  - {line: 3, row: {Subject: sp1, Onset: 40, Offset: 0}, problem: offset 0, action: correct,"
        " set: {Offset: 55}, reason: from the frames}\n"
        "  - {line: 4, row: {Filename: B}, problem: no such video, action: drop, reason: not released}\n",
    )
    rows, notes = apply_errata(ROWS, load_errata(errata), sheet="labels.xlsx")
    assert rows == [ROWS[0], (3, {**ROWS[1][1], "Offset": 55})]
    assert notes == [
        "labels.xlsx, line 3: corrected Offset 0 -> 55 (offset 0; from the frames)",
        "labels.xlsx, line 4: dropped (no such video; not released)",
    ]


def test_an_erratum_that_no_longer_matches_its_row_is_an_error(tmp_path):
    errata = write_errata(
        tmp_path / "e.yaml",
        "  - {line: 3, row: {Offset: 0}, problem: p, action: correct, set: {Offset: 55}, reason: r}\n",
    )
    fixed = [ROWS[0], (3, {**ROWS[1][1], "Offset": "55"})]
    with pytest.raises(AnnotationError, match=r"labels.xlsx, line 3: a known erratum expects \{'Offset': 0\}"):
        apply_errata(fixed, load_errata(errata), sheet="labels.xlsx")
    with pytest.raises(AnnotationError, match=r"line 3: .*no row"):
        apply_errata(ROWS[:1], load_errata(errata), sheet="labels.xlsx")


@pytest.mark.parametrize(
    "entry",
    [
        "  - {line: 3, row: {Offset: 0}, problem: p, action: fix, set: {Offset: 5}, reason: r}\n",
        "  - {line: 3, row: {Offset: 0}, problem: p, action: correct, reason: r}\n",
        "  - {line: 3, row: {Offset: 0}, action: drop, reason: r}\n",
    ],
)
def test_a_malformed_erratum_names_the_file_and_entry(tmp_path, entry):
    with pytest.raises(AnnotationError, match=r"e.yaml, erratum 1: "):
        load_errata(write_errata(tmp_path / "e.yaml", entry))


def test_errata_of_a_release_leave_a_sheet_of_another_length_as_it_is(tmp_path):
    errata = write_errata(
        tmp_path / "e.yaml",
        "  - {line: 3, row: {Offset: 0}, problem: p, action: correct, set: {Offset: 55}, reason: r}\n",
    )
    errata.write_text("release_rows: 3\n" + errata.read_text())
    rows, notes = apply_errata(ROWS, load_errata(errata), sheet="labels.xlsx")
    assert rows[1] == (3, {**ROWS[1][1], "Offset": 55}) and len(notes) == 1
    rows, notes = apply_errata(ROWS[:2], load_errata(errata), sheet="labels.xlsx")
    assert rows == ROWS[:2] and notes == [
        "labels.xlsx: the release errata e.yaml are not applied: the release they describe has 3 rows, this sheet 2"
    ]


def test_the_packaged_errata_load_by_name():
    names = sorted(p.stem for p in ERRATA_DIR.glob("*.yaml"))
    assert "casme3" in names
    for name in names:
        errata = load_errata(name)
        assert errata.entries and errata.release_rows, name


SHEET = "Subject,Filename,Onset,Apex,Offset,emotion\n"


def load(tmp_path, rows, **options):
    (tmp_path / "labels.csv").write_text(SHEET + "".join(rows))
    write_frame_folder(tmp_path / "sp1" / "a", range(1, 61), prefix="")
    return samples_from_sheet(
        annotations=tmp_path / "labels.csv",
        row=lambda r: {"subject": r["Subject"], "clip": f"{r['Subject']}/{r['Filename']}", **_frames(r)},
        dataset="toy",
        root=tmp_path,
        classes=["happy", "others"],
        **options,
    )


def _frames(r):
    return {"onset": r["Onset"], "apex": r["Apex"], "offset": r["Offset"], "emotion": r["emotion"]}


def test_emotion_words_match_in_any_case_with_spaces_around(tmp_path):
    got = load(tmp_path, ["sp1,a,1,2,5, Others \n", "sp1,a,10,12,15,HAPPY\n"])
    assert [s.label for s in got] == [1, 0] and got.notes == []


def test_an_unknown_emotion_names_its_line_and_skipping_lists_every_bad_row(tmp_path):
    rows = ["sp1,a,1,2,5,others\n", "sp1,a,10,12,15,joy\n", "sp1,a,40,20,50,happy\n", "sp1,a,1,3,5,happy\n"]
    with pytest.raises(AnnotationError, match=r"labels.csv, line 3: unknown emotion 'joy'"):
        load(tmp_path, rows)
    got = load(tmp_path, rows, on_bad_row="skip")
    assert [(s.onset, s.offset, s.id) for s in got] == [(1, 5, "sp1/a")]
    assert [n.removeprefix(f"{tmp_path / 'labels.csv'}, ") for n in got.notes] == [
        "line 3: skipped, unknown emotion 'joy'; known: happy, others",
        "line 4: skipped, needs onset <= apex <= offset and onset < offset, got 40, 20, 50",
        f"line 5: skipped, the same interval 1..5 of sp1/a as {tmp_path / 'labels.csv'}, line 2",
    ]


def test_skipping_does_not_hide_a_missing_column_or_a_bad_option(tmp_path):
    (tmp_path / "labels.csv").write_text("Subject,Filename,Onset,Apex,Offset\nsp1,a,1,2,5\n")
    with pytest.raises(AnnotationError, match=r"line 2: no 'emotion' column"):
        samples_from_sheet(
            annotations=tmp_path / "labels.csv",
            row=lambda r: {"emotion": r["emotion"]},
            dataset="toy",
            root=tmp_path,
            classes=["happy"],
            on_bad_row="skip",
        )
    with pytest.raises(ValueError, match="on_bad_row='ignore'"):
        load(tmp_path, ["sp1,a,1,2,5,others\n"], on_bad_row="ignore")
