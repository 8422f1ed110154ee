"""A checkpoint builds mer's own models only: a crafted config cannot call another function; a file
that is not a whole checkpoint is named in one line; a save is atomic."""

import os

import pytest
import torch

from mer.checkpoint import check_model_targets, load_checkpoint, save_checkpoint
from mer.config_check import ConfigError
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
    with pytest.raises(ConfigError):
        check_model_targets({"_target_": "mer.models.htnet.HTNet", "regions": {"_target_": target}}, where="m")


def test_mer_models_load_back(tmp_path):
    net = STSTNet(num_classes=3)
    config = {"model": {"_target_": "mer.models.ststnet.STSTNet", "input_size": [28, 28]}}
    save_checkpoint(tmp_path / "m.pt", net, config, ["a", "b", "c"])
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert loaded.classes == ["a", "b", "c"] and torch.equal(loaded.model.fc.weight, net.fc.weight)


STSTNET = {"model": {"_target_": "mer.models.ststnet.STSTNet", "input_size": [28, 28]}}


def _whole(path):
    save_checkpoint(path, STSTNet(num_classes=3), STSTNET, ["a", "b", "c"])
    return path.read_bytes()


BAD_FILES = {
    "random-bytes": (lambda p: os.urandom(256), "not a torch checkpoint"),
    "empty": (lambda p: b"", "empty file"),
    "truncated": (lambda p: _whole(p)[:1000], "damaged or truncated"),
    "text": (lambda p: b"subject,clip\n1,a\n", "not a torch checkpoint"),
    "no-keys": (lambda p: torch.save({"weights": {}}, p), "no state_dict, config, classes"),
    "no-model": (lambda p: torch.save({"state_dict": {}, "config": {}, "classes": ["a"]}, p), "no config.model"),
    "wrong-weights": (
        lambda p: torch.save({"state_dict": {"fc.weight": torch.zeros(1)}, "config": STSTNET, "classes": ["a"]}, p),
        "weights do not fit",
    ),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_file_that_is_not_a_checkpoint_is_named_in_one_line(tmp_path, capsys, kind):
    path = tmp_path / "final_model.pt"
    make, said = BAD_FILES[kind]
    data = make(path)
    if data is not None:
        path.write_bytes(data)
    assert predict_main([str(path), str(tmp_path / "clip.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and said in err and "Traceback" not in err


def test_a_failed_save_leaves_the_old_checkpoint_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    _whole(path)

    def broken(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, STSTNet(num_classes=2), STSTNET, ["x", "y"])
    assert load_checkpoint(path)[2] == ["a", "b", "c"]
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_two_saves_to_one_file_never_share_a_temporary(tmp_path, monkeypatch):
    path, real, temporaries = tmp_path / "m.pt", torch.save, []

    def save(obj, f):
        temporaries.append(sorted(p.name for p in tmp_path.iterdir()))
        if len(temporaries) == 1:  # a second writer starts while the first is mid-write
            save_checkpoint(path, STSTNet(num_classes=2), STSTNET, ["inner", "save"])
        real(obj, f)

    monkeypatch.setattr(torch, "save", save)
    save_checkpoint(path, STSTNet(num_classes=3), STSTNET, ["a", "b", "c"])
    (first,), inner = temporaries
    assert len(inner) == 2 and first in inner  # both temporaries at once, each its own
    assert load_checkpoint(path)[2] == ["a", "b", "c"]  # the last to finish wins, whole
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
