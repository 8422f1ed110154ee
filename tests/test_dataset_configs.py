"""Each release-format dataset config builds its samples through Hydra, as ``mer.train`` does."""

from collections import Counter

import pytest
from hydra import compose, initialize_config_dir

from mer.compose import CONFIGS, load_samples
from mer.config import register
from tests.conftest import SHARED_DATA, write_casme_sq_workbook, write_frame_folder, write_releases

register()


def samples(*overrides):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    return load_samples(cfg), list(cfg.dataset.classes.names)


def test_samm_smic_and_the_composite_configs(tmp_path):
    sources = write_releases(tmp_path)
    samm, classes = samples(
        "dataset=samm", f"dataset.root={sources['samm_root']}", f"dataset.annotations={sources['samm_annotations']}"
    )
    assert [(s.clip, classes[s.label]) for s in samm] == [("006/006_1_2", "contempt"), ("007/007_3_2", "other")]
    smic, classes = samples("dataset=smic", f"dataset.root={sources['smic_root']}")
    assert [(s.subject, classes[s.label]) for s in smic] == [("s01", "surprise")]
    composite, classes = samples(
        "dataset=megc2019",
        *(f"dataset.{k}={v}" for k, v in sources.items()),
        f"dataset.official_list={tmp_path / 'official.csv'}",
    )
    assert len(composite) == 5 and classes == ["negative", "positive", "surprise"]


def test_casme3_config(tmp_path):
    (tmp_path / "labels.csv").write_text(
        "Subject,Filename,Onset,Apex,Offset,AU,Objective class,emotion\nspNO.1,a,1,3,9,4,1,sad\n"
    )
    write_frame_folder(tmp_path / "spNO.1" / "a" / "color", range(1, 10), prefix="")
    fixture = ["dataset=casme3", f"dataset.root={tmp_path}", f"dataset.annotations={tmp_path / 'labels.csv'}"]
    got, classes = samples(*fixture)
    assert [(s.clip, classes[s.label]) for s in got] == [("spNO.1/a/color", "sad")]
    assert got.notes == [  # a one-row sheet is not the release the errata describe
        f"{tmp_path / 'labels.csv'}: the release errata casme3.yaml are not applied: the release they describe "
        "has 860 rows, this sheet 1"
    ]
    got, classes = samples(*fixture, "dataset.samples.errata=null", "dataset/classes=megc3")
    assert classes[got[0].label] == "negative" and got.notes == []


CASME3_SHEET = SHARED_DATA / "annotations" / "casme3_table.xlsx"
SAMM_SHEET = SHARED_DATA / "annotations" / "SAMM_Micro_FACS_Codes_v2.xlsx"


@pytest.mark.skipif(not CASME3_SHEET.is_file(), reason="../shared CAS(ME)^3 label sheet absent")
def test_casme3_config_reads_the_real_sheet_with_its_errata(tmp_path):
    got, classes = samples(
        "dataset=casme3",
        f"dataset.root={tmp_path}",
        f"dataset.annotations={CASME3_SHEET}",
        "+dataset.samples.check_frames=false",  # frames: tests/datasets/test_casme3.py
    )
    assert len(got) == 860 and len(got.notes) == 5 and len({s.id for s in got}) == 860
    assert len(classes) == 7


@pytest.mark.skipif(not SAMM_SHEET.is_file(), reason="../shared SAMM sheet absent")
def test_samm_config_gives_the_published_samm_counts(tmp_path):
    release = ["dataset=samm", f"dataset.root={tmp_path}", f"dataset.annotations={SAMM_SHEET}"]
    got, classes = samples(*release, "+dataset.samples.check_frames=false")
    assert Counter(classes[s.label] for s in got) == {  # MEGC 2018's five classes: 136 of the 159
        "anger": 57,
        "contempt": 12,
        "happiness": 26,
        "surprise": 15,
        "other": 26,
    }
    got, classes = samples(*release, "+dataset.samples.check_frames=false", "dataset/classes=megc3")
    assert Counter(classes[s.label] for s in got) == {"negative": 92, "positive": 26, "surprise": 15}  # MEGC 2019


def composed(*overrides):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_a_frame_dataset_takes_the_input_its_model_declares_unless_told_otherwise():
    release = ["dataset=casme2", "dataset.root=r", "dataset.annotations=a"]
    r3d = composed(*release, "model=r3d").dataset
    assert (r3d.kind, list(r3d.input_size), r3d.sampling.num_frames) == ("flow_clip", [28, 28], 8)
    ststnet = composed(*release, "model=ststnet").dataset
    assert (ststnet.kind, list(ststnet.input_size), ststnet.flow_algorithm) == ("flow", [28, 28], "tvl1")
    assert list(ststnet.normalization.std) == [1.0, 1.0, 1.0]
    mc3 = composed(*release, "model=mc3").dataset  # declares nothing: RGB clips at 112 x 112
    assert (mc3.kind, list(mc3.input_size)) == ("clips", [112, 112])
    chosen = composed(*release, "model=r3d", "dataset.kind=clips", "dataset.input_size=[56,56]").dataset
    assert (chosen.kind, list(chosen.input_size)) == ("clips", [56, 56])
    images = composed("dataset=megc2019_flow", "dataset.root=r", "model=ststnet").dataset  # ready-made images
    assert images.kind == "images"


FACE_MODES = {
    "casme2": "none",
    "casme": "none",
    "samm": "align",
    "smic": "align",
    "smic_e": "align",
    "casme3": "align",
    "casme_sq": "align",
    "dfme": "align",
    "mmew": "align",
    "fourdme": "align",
}


def test_raw_releases_align_faces_by_default_and_the_cropped_casme_releases_do_not():
    modes = {name: composed(f"dataset={name}", "dataset.root=r").dataset.face.mode for name in FACE_MODES}
    assert modes == FACE_MODES


def test_casme2_leaves_fear_and_sadness_out_of_the_megc_classes(tmp_path):
    sources = write_releases(tmp_path)
    got, classes = samples(
        "dataset=casme2",
        "dataset/classes=megc3",
        f"dataset.root={sources['casme2_root']}",
        f"dataset.annotations={sources['casme2_annotations']}",
    )
    assert "fear" not in {s.emotion.lower() for s in got} and got  # the fixture's fear clip, left out
    kept, _ = samples(
        "dataset=casme2",
        "dataset/classes=megc3",
        "dataset.samples.leave_out=[]",
        f"dataset.root={sources['casme2_root']}",
        f"dataset.annotations={sources['casme2_annotations']}",
    )
    assert [s.emotion for s in kept if s.emotion.lower() == "fear"] == ["fear"]


def write_new_releases(root):
    """CASME, SMIC-E, MMEW and 4DME sheets with one clip of frames each, and their MEGC 3-class labels."""
    frames = root / "frames"
    sheets = {
        "casme": (
            "Subject,Filename,OnsetF,ApexF1,OffsetF,Emotion\n1,EP01_5,2,4,8,amusement\n1,EP01_6,2,4,8,tense\n",
            ["sub01/EP01_5", "sub01/EP01_6"],
        ),
        "smic_e": ("Subject,Filename,OnsetF,OffsetF,Emotion\n1,s1_sur_01,2,8,surprise\n", ["s01/s1_sur_01"]),
        "mmew": (
            "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Estimated Emotion\nS01,S01_01,2,4,8,sadness\n",
            ["sadness/S01_01"],
        ),
        "fourdme": ("sub_ID,fold_name,Onset,Apex,Offset,Emotion\nS1,S1_01,2,4,8,Repression\n", ["S1/S1_01"]),
    }
    for name, (text, clips) in sheets.items():
        (root / f"{name}.csv").write_text(text)
        for clip in clips:
            write_frame_folder(frames / name / clip, range(1, 10))
    return {name: (frames / name, root / f"{name}.csv") for name in sheets}


def test_the_new_release_configs_read_their_sheets_with_their_own_and_the_megc_classes(tmp_path):
    expected = {
        "casme": (["amusement", "tense"], ["positive"]),  # tense is left out of the three classes
        "smic_e": (["surprise"], ["surprise"]),
        "mmew": (["sadness"], ["negative"]),
        "fourdme": (["repression"], ["negative"]),
    }
    for name, (root, sheet) in write_new_releases(tmp_path).items():
        release = [f"dataset={name}", f"dataset.root={root}", f"dataset.annotations={sheet}"]
        own, classes = samples(*release)
        megc, three = samples(*release, "dataset/classes=megc3")
        assert ([classes[s.label] for s in own], [three[s.label] for s in megc]) == expected[name], name
        assert three == ["negative", "positive", "surprise"]


def test_the_casme_sq_config_reads_the_long_video_workbook(tmp_path):
    sheet = write_casme_sq_workbook(
        tmp_path / "codes.xlsx",
        [
            (1, "disgust1_1", 5, 7, 9, "4", "negative", "micro-expression", "disgust"),
            (1, "disgust1_2", 12, 14, 18, "12", "others", "micro-expression", "happy"),
        ],
    )
    write_frame_folder(tmp_path / "s15" / "15_0101disgustingteeth", range(1, 20))
    release = ["dataset=casme_sq", f"dataset.root={tmp_path}", f"dataset.annotations={sheet}"]
    got, classes = samples(*release)
    assert [(s.id, classes[s.label]) for s in got] == [
        ("s15/15_0101disgustingteeth#5-9", "negative"),
        ("s15/15_0101disgustingteeth#12-18", "others"),
    ]
    got, three = samples(*release, "dataset/classes=megc3")
    assert [three[s.label] for s in got] == ["negative"]
