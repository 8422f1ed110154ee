"""data_tools/export_samples.py: a release read as released, written as the canonical CSV, reads
back as the same samples."""

import pytest
from hydra.utils import instantiate

from data_tools.export_samples import main as export
from mer.compose import compose_config
from tests.conftest import SHARED_DATA, write_frame_folder

HEADER = "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Emotion,EmotionId,Fps,AU\n"


def fields(samples):
    return [(s.id, s.subject, s.path, s.onset, s.apex, s.offset, s.label, s.aus, s.fps) for s in samples]


def test_a_release_sheet_exports_to_a_canonical_csv_that_reads_back_the_same(tmp_path):
    rows = ["sub01,sub01_01,0,5,11,anger,0,200,4+7", "sub01,sub01_01,12,15,19,surprise,6,200,1+2"]
    rows.append("sub02,sub02_01,3,,9,contempt,1,500,L12")
    write_frame_folder(tmp_path / "sub01_01", range(0, 20))
    write_frame_folder(tmp_path / "sub02_01", range(0, 10))
    (tmp_path / "sheet.csv").write_text(HEADER + "\n".join(rows) + "\n")
    release = ["dataset=dfme", f"dataset.root={tmp_path}", f"dataset.annotations={tmp_path / 'sheet.csv'}"]
    out = tmp_path / "samples.csv"
    assert export(["--out", str(out), *release]) == 0
    exported = (tmp_path / "samples.csv").read_text().splitlines()
    assert exported[0] == "subject,clip,onset,apex,offset,emotion,au,fps"
    assert exported[3] == "sub02,sub02_01,3,,9,contempt,L12,500"
    back = ["dataset=csv", "dataset/classes=dfme7", f"dataset.root={tmp_path}", f"dataset.annotations={out}"]
    original = instantiate(compose_config(release).dataset.samples, _convert_="all")
    again = instantiate(compose_config(back).dataset.samples, _convert_="all")
    assert fields(again) == fields(original) and again[0].id == "sub01_01#0-11"


def test_a_broken_row_and_a_mistyped_key_exit_2_naming_them(tmp_path, capsys):
    write_frame_folder(tmp_path / "sub01_01", range(0, 20))
    (tmp_path / "sheet.csv").write_text(HEADER + "sub01,sub01_01,8,5,11,anger,0,200,4\n")
    release = ["dataset=dfme", f"dataset.root={tmp_path}", f"dataset.annotations={tmp_path / 'sheet.csv'}"]
    assert export(["--out", str(tmp_path / "o.csv"), *release]) == 2
    assert "sheet.csv, line 2: needs onset <= apex <= offset" in capsys.readouterr().err
    assert export(["--out", str(tmp_path / "o.csv"), *release, "dataset.roots=x"]) == 2
    assert "did you mean dataset.root?" in capsys.readouterr().err and not (tmp_path / "o.csv").exists()


def test_the_real_casme2_release_exports_the_samples_training_sees(tmp_path):
    subset = SHARED_DATA / "casme2_subset"
    sheet = SHARED_DATA / "annotations" / "CASME2-coding-20140508.xlsx"
    if not sheet.is_file() or not (subset / "Cropped").is_dir():
        pytest.skip("../shared CASME II subset absent")
    release = ["dataset=casme2", f"dataset.root={subset / 'Cropped'}", f"dataset.annotations={sheet}"]
    release.append("dataset.samples.skip_missing=true")
    assert export(["--out", str(tmp_path / "casme2.csv"), *release]) == 0
    back = ["dataset=csv", "dataset/classes=casme2_5", f"dataset.root={subset / 'Cropped'}"]
    back.append(f"dataset.annotations={tmp_path / 'casme2.csv'}")
    original = instantiate(compose_config(release).dataset.samples, _convert_="all")
    again = instantiate(compose_config(back).dataset.samples, _convert_="all")
    assert len(original) > 20 and fields(again) == fields(original)
