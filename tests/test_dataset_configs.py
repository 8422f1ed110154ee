"""Each release-format dataset config builds its samples through Hydra, as ``mer.train`` does."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mer.config import register
from tests.conftest import write_frame_folder, write_releases

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
    got, classes = samples(
        "dataset=casme3", f"dataset.root={tmp_path}", f"dataset.annotations={tmp_path / 'labels.csv'}"
    )
    assert [(s.clip, classes[s.label]) for s in got] == [("spNO.1/a/color", "sad")]
    got, classes = samples(
        "dataset=casme3",
        "dataset/classes=megc3",
        f"dataset.root={tmp_path}",
        f"dataset.annotations={tmp_path / 'labels.csv'}",
    )
    assert classes[got[0].label] == "negative"
