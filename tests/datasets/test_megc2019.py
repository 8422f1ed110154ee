import numpy as np
import pytest
from PIL import Image

from mer.data.annotations import AnnotationError
from mer.data.dataset import ImageDataset
from mer.datasets.megc2019 import load_flow_samples
from tests.conftest import SHARED_DATA, write_releases

CLASSES = ["negative", "positive", "surprise"]


def make_set(root, rows):
    (root / "flow28").mkdir(parents=True)
    lines = ["dataset,sub,filename_o,label"]
    for i, (dataset, sub, name, label) in enumerate(rows):
        lines.append(f"{dataset},{sub},{name},{label}")
        image = np.zeros((28, 28, 3), np.uint8)
        image[..., 0], image[..., 2] = 10 * i, 200  # red varies, blue is 200: checks the channel order
        Image.fromarray(image).save(root / "flow28" / f"{sub}_{name} .png")
    (root / "samples.csv").write_text("\n".join(lines) + "\n")


def test_reads_the_sample_list_into_samples_with_dataset_prefixed_subjects(tmp_path):
    make_set(tmp_path, [("casme2", "sub01", "EP02_01f", 1), ("samm", "006", "006_1_2", 0), ("smic", "s1", "s1_ne", 2)])
    samples = load_flow_samples(root=tmp_path, classes=CLASSES)
    assert [(s.subject, s.label, s.emotion, s.dataset) for s in samples] == [
        ("casme2/sub01", 1, "positive", "casme2"),
        ("samm/006", 0, "negative", "samm"),
        ("smic/s1", 2, "surprise", "smic"),
    ]
    assert samples[0].path == tmp_path / "flow28" / "sub01_EP02_01f .png"
    data = ImageDataset(samples, size=(28, 28))
    image, label = data[1]
    assert image.shape == (1, 28, 28, 3) and label == 0
    assert image[0, 0, 0].tolist() == [10, 0, 200]  # the file's RGB order: u, v, strain in the composite


def test_missing_image_and_bad_label_name_the_line(tmp_path):
    make_set(tmp_path, [("casme2", "sub01", "EP02_01f", 1)])
    (tmp_path / "samples.csv").write_text("dataset,sub,filename_o,label\ncasme2,sub01,EP02_01f,5\n")
    with pytest.raises(AnnotationError, match=r"samples.csv, line 2: label 5 outside 0..2"):
        load_flow_samples(root=tmp_path, classes=CLASSES)
    (tmp_path / "samples.csv").write_text("dataset,sub,filename_o,label\ncasme2,sub09,EP02_01f,1\n")
    with pytest.raises(AnnotationError, match=r"line 2: flow image not found"):
        load_flow_samples(root=tmp_path, classes=CLASSES)


COMPOSITE = SHARED_DATA / "megc2019_composite"


@pytest.mark.skipif(not (COMPOSITE / "samples.csv").is_file(), reason="../shared/data/megc2019_composite absent")
def test_the_real_composite_has_442_samples_of_68_subjects():
    samples = load_flow_samples(root=COMPOSITE, classes=CLASSES)
    assert len(samples) == 442 and len({s.subject for s in samples}) == 68
    assert {d: sum(s.dataset == d for s in samples) for d in ("smic", "casme2", "samm")} == {
        "smic": 164,
        "casme2": 145,
        "samm": 133,
    }


ANNOTATIONS = SHARED_DATA / "annotations" / "CASME2-coding-20140508.xlsx"
OFFICIAL = SHARED_DATA / "megc2019_composite" / "samples.csv"


def test_the_composite_built_from_the_three_releases_matches_its_official_list(tmp_path):
    from mer.datasets.megc2019 import composite_entry, load_composite

    sources = write_releases(tmp_path)
    samples = load_composite(**sources, official_list=tmp_path / "official.csv")
    assert [composite_entry(s) for s in samples] == [
        ("smic", "s01", "s01_sur_01", 2),
        ("casme2", "sub01", "EP02_01f", 1),
        ("casme2", "sub17", "EP15_01", 0),
        ("samm", "006", "006_1_2", 0),
        ("samm", "007", "007_3_1", 0),
    ]
    assert [s.subject for s in samples][:3] == ["smic/s01", "casme2/sub01", "casme2/sub17"]
    (tmp_path / "official.csv").write_text("dataset,sub,filename_o,label\nsmic,s01,s01_sur_01,1\n")
    with pytest.raises(AnnotationError, match=r"1 listed samples not built .* 5 built samples not listed"):
        load_composite(**sources, official_list=tmp_path / "official.csv")


@pytest.mark.skipif(not (ANNOTATIONS.is_file() and OFFICIAL.is_file()), reason="../shared sheets absent")
def test_the_real_casme2_sheet_gives_exactly_the_official_casme2_part():
    import csv

    from mer.datasets.casme2 import load_casme2
    from mer.datasets.megc2019 import CASME2_LEFT_OUT, CASME2_TO_COMPOSITE, composite_entry

    built = [
        s
        for s in load_casme2(
            root="unused", annotations=ANNOTATIONS, classes=CLASSES, class_map=CASME2_TO_COMPOSITE, check_frames=False
        )
        if (s.subject, s.clip.split("/")[1]) not in CASME2_LEFT_OUT
    ]
    with OFFICIAL.open() as handle:
        official = {(r["dataset"], r["sub"], r["filename_o"], int(r["label"])) for r in csv.DictReader(handle)}
    assert {composite_entry(s) for s in built} == {o for o in official if o[0] == "casme2"}
    assert len(built) == 145


def test_action_units_come_from_the_source_sheets(tmp_path):
    (tmp_path / "releases").mkdir()
    write_releases(tmp_path / "releases")
    rows = [("casme2", "sub01", "EP02_01f", 1), ("samm", "006", "006_1_2", 0), ("smic", "s1", "s1_ne", 2)]
    make_set(tmp_path / "flow", rows)
    au_sheets = {"casme2": tmp_path / "releases/casme2.csv", "samm": tmp_path / "releases/samm.csv"}
    samples = load_flow_samples(root=tmp_path / "flow", classes=CLASSES, au_sheets=au_sheets)
    assert [s.aus for s in samples] == [("12",), ("4", "7"), ()]  # SMIC codes no AUs
    with pytest.raises(ValueError, match="no sheet reader for 'smic'"):
        load_flow_samples(root=tmp_path / "flow", classes=CLASSES, au_sheets={"smic": tmp_path / "releases/samm.csv"})
