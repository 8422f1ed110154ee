from mer.datasets.mmew import load_mmew
from tests.conftest import write_frame_folder

SEVEN = ["anger", "disgust", "fear", "happiness", "others", "sadness", "surprise"]


def test_reads_the_sheet_into_frame_folders_filed_by_emotion(tmp_path):
    (tmp_path / "MMEW_Micro_Exp.csv").write_text(
        "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion,remarks\n"
        "S01,S01_happiness_01,1,17,38,AU6+AU12,happiness,\n"
        "S02,S02_surprise_02,3,9,30,AU1+AU2,surprise,blink\n"
    )
    write_frame_folder(tmp_path / "happiness" / "S01_happiness_01", range(1, 39), prefix="", suffix=".jpg")
    write_frame_folder(tmp_path / "surprise" / "S02_surprise_02", range(1, 31), prefix="", suffix=".jpg")
    samples = load_mmew(root=tmp_path, annotations=tmp_path / "MMEW_Micro_Exp.csv", classes=SEVEN)
    assert [(s.subject, s.clip, s.onset, s.apex, s.offset, SEVEN[s.label], s.aus) for s in samples] == [
        ("S01", "happiness/S01_happiness_01", 1, 17, 38, "happiness", ("6", "12")),
        ("S02", "surprise/S02_surprise_02", 3, 9, 30, "surprise", ("1", "2")),
    ]
