"""A checkpoint builds mer's own models only: a crafted config cannot call another function."""

import pytest
import torch

from mer.checkpoint import UnsafeCheckpoint, check_model_targets, load_checkpoint, save_checkpoint
from mer.models.ststnet import STSTNet
from mer.predict import main as predict_main


def _crafted(path, victim):
    model = {"_target_": "builtins.dict", "x": {"_target_": "builtins.open", "_args_": [str(victim), "w"]}}
    torch.save({"state_dict": {}, "config": {"model": model}, "classes": ["a", "b", "c"]}, path)


def test_a_crafted_checkpoint_is_refused_in_one_line_and_its_file_untouched(tmp_path, capsys):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    _crafted(tmp_path / "evil.pt", victim)
    assert predict_main([str(tmp_path / "evil.pt"), str(tmp_path / "clip.mp4")]) == 2
    err = capsys.readouterr().err
    assert "builtins.dict" in err and "only build mer.models" in err and err.count("\n") == 1
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize(
    "target",
    ["builtins.open", "mer.models.r3d.torch.save", "mer.models.nope.Nothing", "os.system", 3],
    ids=["builtin", "reached-through-mer-models", "missing", "os", "not-a-string"],
)
def test_every_target_must_be_defined_in_mer_models(target):
    with pytest.raises(UnsafeCheckpoint):
        check_model_targets({"_target_": "mer.models.htnet.HTNet", "regions": {"_target_": target}}, where="m")


def test_mer_models_load_back(tmp_path):
    net = STSTNet(num_classes=3)
    config = {"model": {"_target_": "mer.models.ststnet.STSTNet", "input_size": [28, 28]}}
    save_checkpoint(tmp_path / "m.pt", net, config, ["a", "b", "c"])
    loaded, _, classes = load_checkpoint(tmp_path / "m.pt")
    assert classes == ["a", "b", "c"] and torch.equal(loaded.fc.weight, net.fc.weight)
