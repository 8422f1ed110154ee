import pytest

from mer.datasets.casme2 import load_casme2
from tests.conftest import SHARED_DATA, write_frame_folder

SHEET = SHARED_DATA / "annotations" / "CASME2-coding-20140508.xlsx"
SUBSET = SHARED_DATA / "casme2_subset" / "Cropped"
FIVE = dict(
    classes=["happiness", "disgust", "repression", "surprise", "others"], class_map={"fear": None, "sadness": None}
)


def test_reads_a_coding_sheet_fixture_with_missing_apex_and_left_out_classes(tmp_path):
    sheet = tmp_path / "coding.csv"
    sheet.write_text(
        "CASME II coding,,,,,,\n"  # a title row above the header, as some releases have
        "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion\n"
        "1,EP02_01f,46,59,86,12,happiness\n"
        "1,EP03_02,131,/,161,18,others\n"
        "2,EP09_01,10,20,30,4,fear\n"
        "3,EP01_01,5,6,9,4,repression\n"
    )
    write_frame_folder(tmp_path / "sub01" / "EP02_01f", range(46, 87))
    write_frame_folder(tmp_path / "sub01" / "EP03_02", range(131, 162), prefix="reg_img")
    write_frame_folder(tmp_path / "sub02" / "EP09_01", range(10, 31))
    samples = load_casme2(root=tmp_path, annotations=sheet, **FIVE)
    assert [(s.subject, s.clip, s.onset, s.apex, s.offset, s.emotion, s.label) for s in samples] == [
        ("sub01", "sub01/EP02_01f", 46, 59, 86, "happiness", 0),
        ("sub01", "sub01/EP03_02", 131, None, 161, "others", 4),
    ]  # fear is left out by the 5-class map; sub03 has no frames here
    assert samples[0].path == tmp_path / "sub01" / "EP02_01f" and samples[0].aus == ("12",)


@pytest.mark.skipif(not (SHEET.is_file() and SUBSET.is_dir()), reason="../shared CASME II data absent")
def test_the_real_sheet_finds_the_31_clips_of_the_real_subset(caplog):
    import logging

    with caplog.at_level(logging.INFO):
        samples = load_casme2(root=SUBSET, annotations=SHEET, classes=FIVE["classes"])
    assert len(samples) == 31 and len({s.subject for s in samples}) == 6
    assert "31 clips found, 224 of 255 sheet rows have no frames" in caplog.text
    canonical = (SUBSET.parent / "annotations.csv").read_text().splitlines()[1:]
    assert {s.clip for s in samples} == {line.split(",")[1] for line in canonical}
    assert {(s.clip, s.onset, s.apex, s.offset) for s in samples} == {
        (c[1], int(c[2]), int(c[3]), int(c[4])) for c in (line.split(",") for line in canonical)
    }
