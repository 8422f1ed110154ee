"""Each release-format dataset config builds its samples through Hydra, as ``mer.train`` does."""

from collections import Counter
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from mer.config import register
from tests.conftest import SHARED_DATA, write_frame_folder, write_releases

register()

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def samples(*overrides):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    return instantiate(cfg.dataset.samples, _convert_="all"), list(cfg.dataset.classes.names)


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
    with pytest.raises(InstantiationException, match=r"line 61: a known erratum expects"):  # not the release sheet
        samples(*fixture)
    got, classes = samples(*fixture, "dataset.samples.errata=null")
    assert [(s.clip, classes[s.label]) for s in got] == [("spNO.1/a/color", "sad")]
    got, classes = samples(*fixture, "dataset.samples.errata=null", "dataset/classes=megc3")
    assert classes[got[0].label] == "negative"


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


RELEASES = ("casme2", "samm", "smic", "casme3", "dfme")


def test_raw_releases_align_faces_by_default_and_the_cropped_casme2_does_not():
    modes = {name: composed(f"dataset={name}", "dataset.root=r").dataset.face.mode for name in RELEASES}
    assert modes == {"casme2": "none", "samm": "align", "smic": "align", "casme3": "align", "dfme": "align"}


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
