import pytest

from mer.data.annotations import AnnotationError
from mer.datasets.casme3 import load_casme3
from tests.conftest import write_frame_folder

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
