import logging
from collections import Counter

import pytest

from mer.data.annotations import AnnotationError
from mer.data.sheets import read_sheet
from mer.datasets.casme3 import load_casme3
from tests.conftest import SHARED_DATA, write_frame_folder

SEVEN = ["anger", "disgust", "fear", "happy", "others", "sad", "surprise"]


def test_reads_the_part_a_sheet_into_colour_frame_folders(tmp_path):
    sheet = tmp_path / "cas(me)3_part_A_ME_label_JpgIndex_v2.csv"
    sheet.write_text(
        "Subject,Filename,Onset,Apex,Offset,AU,Objective class,emotion\n"
        "spNO.1,a,137,143,155,L1+L2,1,surprise\n"
        "spNO.1,b,10,18,30,4+7,2,disgust\n"
        "spNO.2,c,1,5,9,12,3,happy\n"  # no frames here
    )
    write_frame_folder(tmp_path / "spNO.1" / "a" / "color", range(137, 156), prefix="")
    write_frame_folder(tmp_path / "spNO.1" / "b" / "color", range(10, 31), prefix="")
    samples = load_casme3(root=tmp_path, annotations=sheet, classes=SEVEN)
    assert [(s.subject, s.clip, s.onset, s.apex, s.offset, s.emotion, s.label) for s in samples] == [
        ("spNO.1", "spNO.1/a/color", 137, 143, 155, "surprise", 6),
        ("spNO.1", "spNO.1/b/color", 10, 18, 30, "disgust", 1),
    ]
    assert samples[0].aus == ("L1", "L2")


def test_the_megc_three_classes_and_a_broken_order(tmp_path):
    sheet = tmp_path / "labels.csv"
    sheet.write_text("Subject,Filename,Onset,Apex,Offset,AU,Objective class,emotion\nspNO.1,a,20,10,30,4,1,sad\n")
    write_frame_folder(tmp_path / "spNO.1" / "a" / "color", range(10, 31), prefix="")
    with pytest.raises(AnnotationError, match=r"labels.csv, line 2: needs onset <= apex <= offset"):
        load_casme3(
            root=tmp_path,
            annotations=sheet,
            classes=["negative", "positive", "surprise"],
            class_map={"sad": "negative", "others": None},
        )


REAL_SHEET = SHARED_DATA / "annotations" / "casme3_table.xlsx"


def write_release_frames(root, sheet):
    """Two made-up frames per video at the release's ``<Subject>/<Filename>/color/<N>.jpg``: its
    first (1), and one 100 frames past the last it annotates; folders are lower-case, as released."""
    last = {}
    for _, row in read_sheet(sheet):
        video = (str(row["Subject"]), str(row["Filename"]).lower())
        last[video] = max(last.get(video, 1), *(int(row[k]) + 100 for k in ("Onset", "Apex", "Offset")))
    for (subject, name), end in last.items():
        write_frame_folder(root / subject / name / "color", (1, end), prefix="", size=4, suffix=".jpg")


@pytest.mark.skipif(not REAL_SHEET.is_file(), reason="../shared CAS(ME)^3 label sheet absent")
def test_the_real_part_a_sheet_loads_every_row_with_its_errata_logged(tmp_path, caplog):
    write_release_frames(tmp_path, REAL_SHEET)
    with caplog.at_level(logging.INFO):
        samples = load_casme3(root=tmp_path, annotations=REAL_SHEET, classes=SEVEN)
    assert len(samples) == 860 and len({s.subject for s in samples}) == 94
    corrected = [f"{REAL_SHEET}, line {n}: corrected" for n in (61, 710, 752, 798, 800)]
    assert len(samples.notes) == 5 and all(
        any(note.startswith(c) for note in samples.notes) and c in caplog.text for c in corrected
    )
    assert len({s.id for s in samples}) == 860  # each interval of a video is a sample of its own
    by_clip = Counter(s.clip for s in samples)
    assert len(by_clip) == 463 and sum(n > 1 for n in by_clip.values()) == 191
    assert "spNO.40/e/color#1812-1845" in {s.id for s in samples}
    counts = Counter(SEVEN[s.label] for s in samples)  # "Others" x3 counted with "others"
    assert counts == {
        "disgust": 250,
        "surprise": 187,
        "others": 161,
        "fear": 86,
        "anger": 64,
        "sad": 57,
        "happy": 55,
    }


@pytest.mark.skipif(not REAL_SHEET.is_file(), reason="../shared CAS(ME)^3 label sheet absent")
def test_the_real_sheet_read_as_it_is_stops_at_its_first_broken_row_or_skips_each(tmp_path):
    with pytest.raises(AnnotationError, match=r"casme3_table.xlsx, line 798: needs onset <= apex <= offset"):
        load_casme3(root=tmp_path, annotations=REAL_SHEET, classes=SEVEN, errata=None, check_frames=False)
    skipped = load_casme3(
        root=tmp_path, annotations=REAL_SHEET, classes=SEVEN, errata=None, check_frames=False, on_bad_row="skip"
    )
    assert len(skipped) == 858 and [n.split(": ")[0].rsplit(" ", 1)[1] for n in skipped.notes] == ["798", "800"]
