import pytest

from mer.data.annotations import AnnotationError
from mer.datasets.casme import load_casme
from tests.conftest import write_frame_folder

EIGHT = ["amusement", "contempt", "disgust", "fear", "repression", "sadness", "surprise", "tense"]
HEADER = "Subject,Filename,OnsetF,ApexF1,OffsetF,Action Units,Emotion\n"


def test_reads_the_coding_sheet_into_subject_frame_folders(tmp_path):
    (tmp_path / "casme.csv").write_text(
        HEADER + "1,EP01_5,19,27,41,12,amusement\n"
        "1,EP03_2,5,/,20,4,Tense \n"  # no apex, the word in another case and with a space
        "4,EP07_1,10,14,30,14,contempt\n"  # no frames here
    )
    write_frame_folder(tmp_path / "sub01" / "EP01_5", range(19, 42), prefix="EP01_5-", suffix=".jpg")
    write_frame_folder(tmp_path / "sub01" / "EP03_2", range(5, 21), prefix="reg_EP03_2-", suffix=".jpg")
    samples = load_casme(root=tmp_path, annotations=tmp_path / "casme.csv", classes=EIGHT)
    assert [(s.subject, s.id, s.onset, s.apex, s.offset, s.label, s.aus) for s in samples] == [
        ("sub01", "sub01/EP01_5", 19, 27, 41, 0, ("12",)),
        ("sub01", "sub01/EP03_2", 5, None, 20, 7, ("4",)),
    ]


def test_an_unknown_emotion_names_the_line(tmp_path):
    (tmp_path / "casme.csv").write_text(HEADER + "1,EP01_5,19,27,41,12,joy\n")
    write_frame_folder(tmp_path / "sub01" / "EP01_5", range(19, 42))
    with pytest.raises(AnnotationError, match=r"casme.csv, line 2: unknown emotion 'joy'"):
        load_casme(root=tmp_path, annotations=tmp_path / "casme.csv", classes=EIGHT)
