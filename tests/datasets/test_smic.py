import pytest

from mer.data.annotations import AnnotationError
from mer.datasets.smic import load_smic, smic_clip_name
from tests.conftest import write_frame_folder

THREE = ["negative", "positive", "surprise"]


def test_reads_the_folder_layout_without_apex(tmp_path):
    write_frame_folder(tmp_path / "s1" / "micro" / "negative" / "s1_ne_01", range(46432, 46450), prefix="image")
    write_frame_folder(tmp_path / "s1" / "micro" / "surprise" / "s1_sur_01", range(100, 112), prefix="reg_image")
    write_frame_folder(tmp_path / "s12" / "micro" / "positive" / "s12_po_03", range(5, 20), prefix="image")
    write_frame_folder(tmp_path / "s1" / "non_micro" / "negative" / "s1_ne_09", range(5, 20), prefix="image")
    samples = load_smic(root=tmp_path, classes=THREE)
    assert [(s.subject, s.clip, s.onset, s.apex, s.offset, s.label) for s in samples] == [
        ("s01", "s1/micro/negative/s1_ne_01", 46432, None, 46449, 0),
        ("s01", "s1/micro/surprise/s1_sur_01", 100, None, 111, 2),
        ("s12", "s12/micro/positive/s12_po_03", 5, None, 19, 1),
    ]
    assert [smic_clip_name(s) for s in samples] == ["s01_ne_01", "s01_sur_01", "s12_po_03"]


def test_an_unknown_class_folder_is_an_error_naming_it(tmp_path):
    write_frame_folder(tmp_path / "s1" / "micro" / "happy" / "s1_po_01", range(1, 5), prefix="image")
    with pytest.raises(AnnotationError, match=r"s1_po_01: unknown emotion 'happy'"):
        load_smic(root=tmp_path, classes=THREE)
