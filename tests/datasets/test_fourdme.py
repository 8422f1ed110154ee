import pytest

from mer.data.annotations import AnnotationError
from mer.datasets.fourdme import load_fourdme
from tests.conftest import write_frame_folder

FIVE = ["negative", "others", "positive", "repression", "surprise"]
HEADER = "sub_ID,fold_name,Onset,Apex,Offset,AUs,Emotion,Positive,Negative,Surprise,Repression,Others\n"


def test_reads_the_labelling_sheet_into_2d_frame_folders(tmp_path):
    (tmp_path / "4DME.csv").write_text(
        HEADER + "S1,S1_0102,12,20,31,AU4+AU7,Negative,0,1,0,0,0\nS2,S2_0301,1,4,10,AU12,Positive,1,0,0,0,0\n"
    )
    write_frame_folder(tmp_path / "S1" / "S1_0102", range(1, 40), prefix="", suffix=".jpg")
    write_frame_folder(tmp_path / "S2" / "S2_0301", range(1, 11), prefix="", suffix=".jpg")
    samples = load_fourdme(root=tmp_path, annotations=tmp_path / "4DME.csv", classes=FIVE)
    assert [(s.subject, s.clip, s.onset, s.apex, s.offset, FIVE[s.label]) for s in samples] == [
        ("S1", "S1/S1_0102", 12, 20, 31, "negative"),
        ("S2", "S2/S2_0301", 1, 4, 10, "positive"),
    ]


def test_a_multi_emotion_sample_names_its_line_until_mapped(tmp_path):
    (tmp_path / "4DME.csv").write_text(HEADER + "S1,S1_0102,12,20,31,AU4,Negative+Surprise,0,1,1,0,0\n")
    write_frame_folder(tmp_path / "S1" / "S1_0102", range(1, 40))
    with pytest.raises(AnnotationError, match=r"4DME.csv, line 2: unknown emotion 'Negative\+Surprise'"):
        load_fourdme(root=tmp_path, annotations=tmp_path / "4DME.csv", classes=FIVE)
    mapped = load_fourdme(
        root=tmp_path, annotations=tmp_path / "4DME.csv", classes=FIVE, class_map={"negative+surprise": None}
    )
    assert mapped == [] and mapped.notes == []
