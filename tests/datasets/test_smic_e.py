from mer.datasets.smic_e import load_smic_e
from tests.conftest import write_frame_folder

THREE = ["negative", "positive", "surprise"]


def test_reads_intervals_inside_the_extended_clips(tmp_path):
    (tmp_path / "SMIC-HS-E_annotation.csv").write_text(
        "Subject,Filename,FirstF,OnsetF,OffsetF,TotalMF,Emotion\n"
        "1,s1_ne_01,46400,46432,46449,18,negative\n"
        "12,s12_po_03,1000,1010,1030,21,positive\n"
        ",,,,,,\n"
        "Note: frame numbers are those of the image files,,,,,,\n"  # a note below the table
    )
    write_frame_folder(tmp_path / "s01" / "s1_ne_01", range(46400, 46480), prefix="image0", suffix=".jpg")
    write_frame_folder(tmp_path / "s12" / "s12_po_03", range(1000, 1060), prefix="image00", suffix=".jpg")
    samples = load_smic_e(root=tmp_path, annotations=tmp_path / "SMIC-HS-E_annotation.csv", classes=THREE)
    assert [(s.subject, s.clip, s.onset, s.apex, s.offset, s.label) for s in samples] == [
        ("s01", "s01/s1_ne_01", 46432, None, 46449, 0),
        ("s12", "s12/s12_po_03", 1010, None, 1030, 1),
    ]
    assert samples.notes == []
