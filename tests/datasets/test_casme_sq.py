import pytest

from mer.data.annotations import AnnotationError
from mer.datasets.casme_sq import load_casme_sq
from tests.conftest import write_casme_sq_workbook, write_frame_folder

FOUR = ["negative", "others", "positive", "surprise"]


def test_reads_the_micro_expressions_of_the_long_videos(tmp_path):
    sheet = write_casme_sq_workbook(
        tmp_path / "CAS(ME)^2code_final(Updated).xlsx",
        [
            (1, "disgust1_1", 557, 572, 608, "4+7", "negative", "micro-expression", "disgust"),
            (1, "disgust1_2", 1200, 1210, 1300, "9", "negative", "macro-expression", "disgust"),  # not a sample
            (1, "disgust1_3", 2000, 2006, 0, "12", "positive", "micro-expression", "happy"),  # offset unannotated
            (2, "anger1_1", 30, 0, 45, "L10", "others", "micro-expression", "anger"),  # no apex
        ],
    )
    write_frame_folder(tmp_path / "s15" / "15_0101disgustingteeth", (1, 2500), prefix="img", suffix=".jpg")
    write_frame_folder(tmp_path / "s16" / "16_0401girlcrashing", (1, 100), prefix="img", suffix=".jpg")
    samples = load_casme_sq(root=tmp_path, annotations=sheet, classes=FOUR)
    assert [(s.subject, s.id, s.onset, s.apex, s.offset, FOUR[s.label]) for s in samples] == [
        ("s15", "s15/15_0101disgustingteeth#557-608", 557, 572, 608, "negative"),
        ("s15", "s15/15_0101disgustingteeth#2000-2006", 2000, 2006, 2006, "positive"),
        ("s16", "s16/16_0401girlcrashing", 30, None, 45, "others"),
    ]
    assert samples[0].path == tmp_path / "s15" / "15_0101disgustingteeth" and samples[0].aus == ("4", "7")
    macro = load_casme_sq(root=tmp_path, annotations=sheet, classes=FOUR, kind="macro-expression")
    assert [s.id for s in macro] == ["s15/15_0101disgustingteeth"]


def test_a_video_missing_from_the_naming_rules_names_its_line(tmp_path):
    sheet = write_casme_sq_workbook(
        tmp_path / "codes.xlsx", [(1, "fear2_1", 5, 8, 12, "4", "negative", "micro-expression", "fear")]
    )
    with pytest.raises(AnnotationError, match=r"codes.xlsx, line 1: video 'fear2' is not in the naming rule2"):
        load_casme_sq(root=tmp_path, annotations=sheet, classes=FOUR)
