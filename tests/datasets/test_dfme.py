from collections import Counter

import pytest

from mer.data.annotations import AnnotationError
from mer.data.splits import published_split
from mer.datasets.dfme import load_dfme
from tests.conftest import CONFIGS, SHARED_DATA, tiny_clip_run, write_frame_folder, write_test_video

SHEET = SHARED_DATA / "annotations" / "DFME_training_full_with_AU.xlsx"
SEVEN = ["anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"]
HEADER = "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Emotion,EmotionId,Fps,AU\n"


def test_fixture_with_video_and_frame_folder_keeps_the_frame_rate(tmp_path):
    (tmp_path / "sheet.csv").write_text(
        HEADER + "sub0003,sub0003_01,2,10,20,anger,0,500,L12\nsub0004,sub0004_02,101,110,119,surprise,6,200,1+2\n"
    )
    write_test_video(tmp_path / "sub0003_01.mp4", 24)
    write_frame_folder(tmp_path / "sub0004_02", range(101, 121))
    samples = load_dfme(
        root=tmp_path,
        annotations=tmp_path / "sheet.csv",
        classes=SEVEN,
        clip_pattern="{Filename}.mp4",
        skip_missing=True,
    )
    assert [(s.subject, s.clip, s.fps, s.aus, s.label) for s in samples] == [
        ("sub0003", "sub0003_01.mp4", 500.0, ("L12",), 0)
    ]
    folders = load_dfme(root=tmp_path, annotations=tmp_path / "sheet.csv", classes=SEVEN, skip_missing=True)
    assert [(s.clip, s.onset, s.offset, s.fps) for s in folders] == [("sub0004_02", 101, 119, 200.0)]


def test_a_broken_row_names_the_sheet_line(tmp_path):
    (tmp_path / "sheet.csv").write_text(HEADER + "sub0003,sub0003_01,30,10,20,anger,0,500,4\n")
    write_frame_folder(tmp_path / "sub0003_01", range(0, 40))
    with pytest.raises(AnnotationError, match=r"sheet.csv, line 2: needs onset <= apex <= offset"):
        load_dfme(root=tmp_path, annotations=tmp_path / "sheet.csv", classes=SEVEN)


@pytest.mark.skipif(not SHEET.is_file(), reason="../shared DFME sheet absent")
def test_the_real_training_sheet(tmp_path):
    samples = load_dfme(root=tmp_path, annotations=SHEET, classes=SEVEN, check_frames=False, skip_missing=False)
    assert len(samples) == 1856 and len({s.subject for s in samples}) == 176
    assert Counter(s.emotion for s in samples) == {
        "disgust": 548,
        "surprise": 298,
        "sadness": 278,
        "fear": 265,
        "happiness": 206,
        "anger": 161,
        "contempt": 100,
    }
    assert {s.fps for s in samples} == {500.0, 300.0, 200.0}
    assert all(s.onset <= s.apex <= s.offset for s in samples if s.apex is not None)


def test_a_published_split_trains_on_the_training_sheet_and_scores_each_test_sheet(tmp_path):
    from hydra import compose, initialize_config_dir

    from mer.experiment import run

    sheets = {}
    for part, subjects in {
        "train": ["sub01", "sub02", "sub03"],
        "test_a": ["sub04"],
        "test_b": ["sub05", "sub06"],
    }.items():
        rows = []
        for subject in subjects:
            for j, emotion in enumerate(["anger", "happiness"]):
                name = f"{subject}_{j:02d}"
                write_frame_folder(tmp_path / "frames" / name, range(0, 12), size=24)
                rows.append(f"{subject},{name},0,5,11,{emotion},0,200,4\n")
        sheets[part] = tmp_path / f"{part}.csv"
        sheets[part].write_text(HEADER + "".join(rows))
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                "dataset=dfme_split",
                "evaluation=split",
                f"dataset.root={tmp_path / 'frames'}",
                f"dataset.annotations={sheets['train']}",
                f"dataset.test_sheets={{test_a:{sheets['test_a']},test_b:{sheets['test_b']}}}",
                *tiny_clip_run(tmp_path / "cache"),
            ],
        )
    results = run(cfg, tmp_path / "run")
    assert results["num_folds"] == 1 and results["num_samples"] == 6  # the test sheets only
    assert {k: v["num_samples"] for k, v in results["per_dataset"].items()} == {"dfme/test_a": 2, "dfme/test_b": 4}
    assert "published split" in results["protocol_description"]


def test_a_published_split_keeps_every_sheets_notes(tmp_path):
    (tmp_path / "train.csv").write_text(
        HEADER + "sub0005,sub0005_01,101,110,119,fear,3,200,4\n"
        "sub0003,sub0003_01,30,10,20,anger,0,500,4\n"  # broken: skipped, and noted
    )
    (tmp_path / "test_a.csv").write_text(HEADER + "sub0004,sub0004_02,101,110,119,surprise,6,200,1+2\n")
    for clip in ("sub0003_01", "sub0004_02", "sub0005_01"):
        write_frame_folder(tmp_path / clip, range(101, 121))
    got = published_split(
        load=load_dfme,
        annotations=tmp_path / "train.csv",
        test_sheets={"test_a": tmp_path / "test_a.csv"},
        root=tmp_path,
        classes=SEVEN,
        on_bad_row="skip",
    )
    assert [(s.clip, s.part) for s in got] == [("sub0005_01", "train"), ("sub0004_02", "test_a")]
    assert got.notes == [
        f"{tmp_path / 'train.csv'}, line 3: skipped, needs onset <= apex <= offset and onset < offset, got 30, 10, 20"
    ]
