"""The first-run mistakes on mer.train's command line, each one line naming the fix."""

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from mer.config_check import ConfigError, check_command_line, check_input, path_or_overrides
from tests.conftest import CONFIGS


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["dataset.classes=megc3"], r"dataset/classes is a config group, not a key; write dataset/classes=megc3 \("),
        (["model=r3dd"], r"no model 'r3dd' \(did you mean r3d\?\); choose model=one of .*ststnet"),
        (["model=r3d,r3dd", "--multirun"], r"no model 'r3dd'"),
        (["trainer.epoch=3"], r"no key trainer.epoch \(did you mean trainer.epochs\?\); .* write \+trainer.epoch=3"),
        (["dataset=csv", "dataset.roots=/x"], r"no key dataset.roots \(did you mean dataset.root\?\)"),
        (["model=r3d", "model.width=[8]"], r"no key model.width \(did you mean model.widths\?\)"),
    ],
)
def test_a_mistyped_group_choice_or_key_names_the_fix(overrides, message):
    with pytest.raises(ConfigError, match=message):
        check_command_line(overrides, CONFIGS)


@pytest.mark.parametrize(
    "overrides",
    [
        ["dataset=casme2", "dataset.root=/r", "dataset.annotations=/a.xlsx", "dataset/classes=megc3"],
        ["dataset=dfme_split", "dataset.root=/r", "dataset.annotations=/a.xlsx", "dataset.test_sheets={test_a:/t.xlsx}"]
        + ["evaluation=split"],
        ["model=r3d,transformer", "--multirun", "hydra.run.dir=/tmp/x", "seed=2", "+trainer.extra=1"],
        ["dataset=megc2019_flow", "dataset.root=/r", "dataset.samples.au_sheets={casme2:/s.xlsx}"]
        + ["trainer.optimizer.lr=3e-4"],
    ],
)
def test_correct_command_lines_pass(overrides):
    check_command_line(overrides, CONFIGS)


def compose_config(*overrides):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_a_model_whose_input_the_dataset_cannot_give_names_the_keys_to_set():
    with pytest.raises(ConfigError, match=r"dataset.kind=clips, .* input.kind=flow .*: set dataset.kind=flow "):
        check_input(compose_config("model=ststnet"))  # the synthetic set's fixed RGB clips
    with pytest.raises(ConfigError, match=r"dataset.kind=images, .* input.kind=flow_clip .*a model for images"):
        check_input(compose_config("dataset=megc2019_flow", "dataset.root=/r", "model=r3d"))
    check_input(compose_config("model=ststnet", "dataset.kind=flow", "dataset.input_size=[28,28]"))
    check_input(compose_config("dataset=casme2", "dataset.root=/r", "dataset.annotations=/a", "model=ststnet"))


def test_the_command_prints_one_line_and_exits_before_training(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mer.train", "dataset.classes=megc3", f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("mer.train: dataset.classes=megc3: dataset/classes is a config group, not a key; write ")
    assert "dataset/classes=megc3 (choices: " in line and "megc3" in line.split("choices: ")[1]
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (["a.mp4"], (Path("a.mp4"), [])),
        (["dataset=casme2", "dataset.root=/x"], (None, ["dataset=casme2", "dataset.root=/x"])),
        (["a.mp4", "dataset=casme2"], None),
        (["a.mp4", "b.mp4"], None),
    ],
)
def test_one_path_or_dataset_overrides_never_both(inputs, expected, capsys):
    parser = argparse.ArgumentParser(prog="mer.spot")
    if expected is not None:
        assert path_or_overrides(inputs, parser, "VIDEO") == expected
        return
    with pytest.raises(SystemExit):
        path_or_overrides(inputs, parser, "VIDEO")
    assert "give one VIDEO, or dataset= overrides" in capsys.readouterr().err


def test_a_value_of_the_wrong_type_and_an_unset_root_are_one_line_each():
    from mer.compose import CONFIGS

    with pytest.raises(ConfigError) as wrong:
        check_command_line(["trainer.epochs=two"], CONFIGS)
    assert str(wrong.value).startswith("trainer.epochs=two: ") and "\n" not in str(wrong.value)
    with pytest.raises(ConfigError, match=r"^dataset.root, dataset.annotations: not set") as unset:
        check_command_line(["dataset=casme2"], CONFIGS)
    assert "\n" not in str(unset.value)
    check_command_line(["-m", "dataset=casme2", "dataset.root=a,b", "dataset.annotations=s.xlsx"], CONFIGS)  # a sweep
    check_command_line(["--multirun", "seed=0,1", "trainer.epochs=2"], CONFIGS)
