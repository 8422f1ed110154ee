"""data_tools/export_features.py: computed inputs written once train to the same predictions as the
dataset they came from, and a folder that does not fit the run says so in one line."""

import json

import pytest

from data_tools.export_features import main as export
from mer.compose import compose_config
from mer.data.annotations import AnnotationError
from mer.experiment import run

#: a tiny synthetic set as flow clips of the size and frames the model's input asks for
SYNTHETIC = ["dataset.num_subjects=3", "dataset.clips_per_subject=4", "dataset.frame_size=32", "dataset.kind=flow_clip"]
SYNTHETIC += ["dataset.input_size=[16,16]", "dataset.sampling.num_frames=4"]
RECIPE = ["model=r3d", "input.size=[16,16]", "input.num_frames=4", "trainer.epochs=1", "trainer.batch_size=4"]
RECIPE += ["trainer.progress=false"]


def _config(tmp_path, *overrides):
    return compose_config([f"trainer.clip_cache_dir={tmp_path / 'cache'}", *RECIPE, *overrides])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The tiny synthetic set's flow clips exported once: (tmp folder, source overrides, folder)."""
    tmp_path = tmp_path_factory.mktemp("export")
    source = [f"dataset.cache_dir={tmp_path / 'synthetic'}", *SYNTHETIC]
    out = tmp_path / "features"
    assert export(["--out", str(out), *_config_args(tmp_path, source)]) == 0
    return tmp_path, source, out


def test_exported_flow_clips_train_as_the_dataset_they_came_from(exported):
    tmp_path, source, out = exported
    record = json.loads((out / "provenance.json").read_text())
    assert record["input"]["kind"] == "flow_clip" and record["shape"] == [12, 4, 16, 16, 3]
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 12 and not any("path" in r for r in records)  # nothing names where the frames were
    run(_config(tmp_path, *source), tmp_path / "from_frames")
    travelled = ["dataset=features", f"dataset.root={out}", "dataset/classes=megc3"]
    run(_config(tmp_path, *travelled), tmp_path / "from_features")
    for fold in ("fold000", "fold001", "fold002"):
        alone = (tmp_path / f"from_frames/folds/{fold}.csv").read_text()
        assert (tmp_path / f"from_features/folds/{fold}.csv").read_text() == alone


def _config_args(tmp_path, overrides):
    return [f"trainer.clip_cache_dir={tmp_path / 'cache'}", *RECIPE, *overrides]


def test_a_folder_for_another_input_or_class_set_is_refused_naming_the_key(exported):
    tmp_path, _, out = exported
    other_size = ["dataset=features", f"dataset.root={out}", "dataset/classes=megc3", "input.size=[24,24]"]
    with pytest.raises(AnnotationError, match="input.kind, input.size"):
        run(_config(tmp_path, *other_size), tmp_path / "a")
    other_classes = ["dataset=features", f"dataset.root={out}", "dataset/classes=casme2_5"]
    with pytest.raises(Exception, match="set dataset/classes to the same set"):
        run(_config(tmp_path, *other_classes), tmp_path / "b")


def test_the_tool_refuses_a_missing_key_in_one_line(tmp_path, capsys):
    assert export(["--out", str(tmp_path / "x"), "dataset=casme2", "dataset.root=/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dataset.annotations: not set" in err
    assert not (tmp_path / "x").exists()
