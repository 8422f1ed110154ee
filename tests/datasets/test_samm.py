import csv
from collections import Counter

import pytest

from mer.data.annotations import AnnotationError
from mer.data.sheets import read_sheet
from mer.datasets.samm import load_samm, samm_subject
from tests.conftest import SHARED_DATA, write_frame_folder

FIVE = dict(
    classes=["anger", "contempt", "happiness", "surprise", "other"],
    class_map={"disgust": None, "fear": None, "sadness": None},
)
HEADER = (
    "Subject,Filename,Inducement Code,Onset Frame,Apex Frame,Offset Frame,Duration,Type,Action Units,Notes,"
    "Estimated Emotion\n"
)


def write_sheet(path, rows):
    # the release's title rows sit above the header
    path.write_text("SAMM Micro FACS Codes,,,,,,,,,,\nVersion 2,,,,,,,,,,\n,,,,,,,,,,\n" + HEADER + "".join(rows))
    return path


def test_reads_the_facs_sheet_with_title_rows_and_unpadded_subjects(tmp_path):
    sheet = write_sheet(
        tmp_path / "SAMM_Micro_FACS_Codes_v2.csv",
        [
            "6,006_1_2,1,5562,5588,5632,71,Micro - 1/2,4+7,,Anger\n",
            "6,006_1_3,1,3912,3948,3988,77,Micro - 1/2,R12,,Happiness\n",
            "7,007_3_1,3,10,,40,31,Micro - 1/2,1+2,,Fear\n",  # fear is left out of the five classes
            "11,011_2_1,2,100,120,140,41,Micro - 1/2,12,,Other\n",  # no frames here
        ],
    )
    write_frame_folder(tmp_path / "006" / "006_1_2", range(5562, 5633), prefix="006_0")
    write_frame_folder(tmp_path / "006" / "006_1_3", range(3912, 3989), prefix="006_0")
    write_frame_folder(tmp_path / "007" / "007_3_1", range(10, 41), prefix="007_000")
    samples = load_samm(root=tmp_path, annotations=sheet, **FIVE)
    assert [(s.subject, s.clip, s.onset, s.apex, s.offset, s.emotion, s.label) for s in samples] == [
        ("006", "006/006_1_2", 5562, 5588, 5632, "Anger", 0),
        ("006", "006/006_1_3", 3912, 3948, 3988, "Happiness", 2),
    ]
    assert samples[0].path == tmp_path / "006" / "006_1_2" and samples[0].aus == ("4", "7")


def test_subject_numbers_in_any_spelling_name_the_same_folder():
    assert samm_subject(6) == samm_subject("006") == samm_subject(6.0) == samm_subject(" 6 ") == "006"


def test_a_frame_outside_the_clip_names_the_sheet_line(tmp_path):
    sheet = write_sheet(tmp_path / "codes.csv", ["6,006_1_2,1,5562,5588,5699,71,Micro,4,,Anger\n"])
    write_frame_folder(tmp_path / "006" / "006_1_2", range(5562, 5633), prefix="006_0")
    with pytest.raises(AnnotationError, match=r"codes.csv, line 5: frames 5562..5699 outside"):
        load_samm(root=tmp_path, annotations=sheet, **FIVE)


def test_a_sheet_without_the_emotion_column_is_an_error_naming_the_line(tmp_path):
    sheet = tmp_path / "codes.csv"
    sheet.write_text("Subject,Filename,Onset Frame,Apex Frame,Offset Frame\n6,006_1_2,1,2,3\n")
    with pytest.raises(AnnotationError, match=r"codes.csv, line 2: no 'Estimated Emotion' column"):
        load_samm(root=tmp_path, annotations=sheet, **FIVE)


REAL_SHEET = SHARED_DATA / "annotations" / "SAMM_Micro_FACS_Codes_v2.xlsx"
#: SAMM's estimated emotions over its 159 micro-movements of 29 subjects (Davison et al., IEEE TAC 2018;
#: the emotions: Davison, Merghani & Yap, "Objective Classes for Micro-Facial Expression Recognition",
#: J. Imaging 2018). Their MEGC 2019 part, negative 92 / positive 26 / surprise 15, is checked in
#: tests/test_dataset_configs.py.
PUBLISHED = {
    "anger": 57,
    "contempt": 12,
    "disgust": 9,
    "fear": 8,
    "happiness": 26,
    "sadness": 6,
    "surprise": 15,
    "other": 26,
}


def write_release_frames(root, sheet):
    """Each clip's onset and offset frame, made up, at the release's ``006/006_1_2/006_05562.jpg``."""
    for _, row in read_sheet(sheet):
        subject, name = samm_subject(row["Subject"]), str(row["Filename"]).strip()
        for n in (int(row["Onset Frame"]), int(row["Offset Frame"])):
            padded = f"{subject}_{n:05d}"  # 006_05562
            write_frame_folder(root / subject / name, (n,), prefix=padded[: -len(str(n))], size=4, suffix=".jpg")


@pytest.mark.skipif(not REAL_SHEET.is_file(), reason="../shared SAMM sheet absent")
def test_the_real_sheet_gives_the_published_counts(tmp_path):
    write_release_frames(tmp_path, REAL_SHEET)
    samples = load_samm(root=tmp_path, annotations=REAL_SHEET, classes=list(PUBLISHED))
    assert len(samples) == 159 and len({s.subject for s in samples}) == 29 and not samples.notes
    assert Counter(s.emotion.lower() for s in samples) == PUBLISHED
    assert len({s.id for s in samples}) == 159 and all(s.id == s.clip for s in samples)  # one clip a sample
    assert samples[0].path == tmp_path / "006" / "006_1_2" and (samples[0].onset, samples[0].offset) == (5562, 5632)


COMPOSITE = SHARED_DATA / "megc2019_composite" / "samples.csv"


@pytest.mark.skipif(not (REAL_SHEET.is_file() and COMPOSITE.is_file()), reason="../shared SAMM data absent")
def test_the_real_sheet_on_the_megc_classes_is_the_composites_samm_part():
    three = dict(
        classes=["negative", "positive", "surprise"],
        class_map={e: "negative" for e in ("anger", "contempt", "disgust", "fear", "sadness")}
        | {"happiness": "positive", "other": None},
    )
    samples = load_samm(root="unused", annotations=REAL_SHEET, check_frames=False, **three)
    with COMPOSITE.open() as handle:
        official = {
            (r["sub"], r["filename_o"]): int(r["label"]) for r in csv.DictReader(handle) if r["dataset"] == "samm"
        }
    assert {(s.subject, s.clip.split("/")[1]): s.label for s in samples} == official  # 133: 92 / 26 / 15
    assert Counter(official.values()) == {0: 92, 1: 26, 2: 15}
