"""Every loss, schedule and method switch with the clip models (r3d, transformer) on flow clips: each
trains, or stops before anything is written with one line naming the switch and why."""

import csv
import math
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from mer.compose import CONFIGS
from mer.config_check import ConfigError
from mer.experiment import Experiment, run
from mer.losses import CrossEntropy
from mer.methods.model import MethodModel
from mer.models.transformer import TemporalTransformer
from tests.methods.test_model import SWITCHES, build

LOSSES = sorted(p.stem for p in (CONFIGS / "loss").glob("*.yaml"))
SCHEDULES = sorted(p.stem for p in (CONFIGS / "schedule").glob("*.yaml"))
#: narrow enough that one epoch of two folds takes about a second
TINY = {
    "r3d": ["model.widths=[4,4,4,4]"],
    "transformer": ["model.dim=16", "model.depth=2", "model.heads=2"],
}
SWITCH_SETTINGS = {"au": ["methods.au.min_count=1"]}  # 4 clips a subject carry few AUs
CASES = (
    [f"loss={name}" for name in LOSSES]
    + [f"schedule={name}" for name in SCHEDULES]
    + [f"methods.{name}.enabled=true" for name in SWITCHES]
)


def test_every_choice_is_covered():
    assert len(LOSSES) == 6 and len(SCHEDULES) == 3 and len(SWITCHES) == 5


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """Synthetic clips and their flow, made once for the module."""
    return tmp_path_factory.mktemp("flow_clips")


def flow_config(cache: Path, model: str, *overrides: str):
    """Two subjects of four 32-pixel clips as 4 x 16 x 16 flow clips (the clip models' input,
    normalised as their configs say), one epoch of two folds."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(
            "config",
            overrides=[
                f"model={model}",
                *TINY[model],
                f"dataset.cache_dir={cache}",
                "dataset.num_subjects=2",
                "dataset.clips_per_subject=4",
                "dataset.frame_size=32",
                "dataset.kind=flow_clip",
                "+dataset.flow_algorithm=dis",
                "dataset.input_size=[16,16]",
                "dataset.sampling.num_frames=4",
                "dataset.normalization.mean=[0.5,0.5,0.0]",
                "dataset.normalization.std=[0.25,0.25,0.25]",
                "dataset.normalization.subtract_first_frame=false",
                "trainer.device=cpu",
                "trainer.num_threads=1",
                "trainer.epochs=1",
                "trainer.batch_size=4",
                "trainer.progress=false",
                "trainer.tensorboard=false",
                f"trainer.clip_cache_dir={cache / 'clips'}",
                "evaluation.max_folds=2",
                *overrides,
            ],
        )


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("model", ["r3d", "transformer"])
def test_each_loss_schedule_and_method_trains_a_clip_model_on_flow_clips(cache, tmp_path, model, case):
    switch = case.split(".")[1] if case.startswith("methods.") else None
    results = run(flow_config(cache, model, case, *SWITCH_SETTINGS.get(switch, [])), tmp_path)
    assert results["num_folds"] == 2
    for fold in ("fold000", "fold001"):
        (row,) = csv.DictReader((tmp_path / "folds" / f"{fold}.curve.csv").open())
        assert math.isfinite(float(row["loss"]))


@pytest.mark.parametrize(
    ("model", "settings", "named"),
    [
        ("transformer", ["methods.eac.enabled=true", "model.keep_tokens=0.5"], "methods.eac needs a class activation"),
        ("r3d", ["methods.eac.enabled=true", "methods.dan.enabled=true"], "methods.eac and methods.dan cannot"),
        ("r3d", ["methods.au.enabled=true", "methods.au.min_count=100"], "methods.au needs action-unit annotations"),
        ("r3d", ["methods.dan.enabled=true", "trainer.final_fit=true"], "trainer.final_fit with methods.dan"),
    ],
    ids=["transformer-pruning-eac", "eac-with-dan", "au-without-aus", "dan-final-fit"],
)
def test_a_switch_the_model_cannot_take_stops_before_anything_is_written(cache, tmp_path, model, settings, named):
    with pytest.raises(ConfigError, match=named) as refused:
        run(flow_config(cache, model, *settings), tmp_path / "run")
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_mirroring_for_eac_and_augmentation_negates_the_horizontal_flow_of_flow_clips(cache):
    experiment = Experiment.from_config(flow_config(cache, "r3d", "methods.eac.enabled=true"))
    model = experiment.new_model([0, 1], seed=0)
    assert isinstance(model, MethodModel) and model.eac["negate_channels"] == [0]
    assert list(experiment.augment.negate_channels) == [0]


def transformer(**settings) -> TemporalTransformer:
    settings = {"num_frames": 4, "input_size": (16, 16), "dim": 16, "depth": 2, "heads": 2, **settings}
    return TemporalTransformer(num_classes=3, **settings)


VARIANTS = {
    "cnn": {},
    "patch": {"frame_encoder": "patch", "patch_size": 4},
    "query-pooling": {"pooling": "query"},
    "resnet-mean": {"frame_encoder": "resnet", "frame_grid": 2, "pooling": "mean"},
    "pruned": {"frame_encoder": "patch", "patch_size": 4, "keep_tokens": 0.5, "pool_after": 1},
}


@pytest.mark.parametrize(
    ("variant", "switch"),
    # EAC on pruned tokens is refused (above): they leave no grid
    [(v, s) for v in VARIANTS for s in SWITCHES if (v, s) != ("pruned", "eac")],
)
def test_each_switch_wraps_the_transformer_its_tokens_as_the_feature_map(variant, switch):
    wrapped = build(transformer(**VARIANTS[variant]), switch)
    wrapped.train()
    wrapped.generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 3, 4, 16, 16), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    loss, _ = wrapped.training_loss(x, y, torch.arange(8), CrossEntropy(class_counts=[3, 3, 2]))
    loss.backward()
    assert torch.isfinite(loss)
    assert wrapped.backbone.pos.grad.abs().sum() > 0
    own = [p for name, p in wrapped.named_parameters() if not name.startswith("backbone.")]
    assert all(p.grad is not None for p in own)
    assert wrapped.eval()(x).shape == (8, 3)


def test_transformer_class_maps_lie_on_its_space_time_token_grid():
    cases = (({}, (4, 1, 1)), ({"frame_grid": 2}, (4, 2, 2)), ({"frame_encoder": "patch", "patch_size": 4}, (4, 4, 4)))
    cases += (({"frame_encoder": "tubelet", "frame_grid": 2}, (4, 2, 2)), ({"frame_encoder": "resnet"}, (4, 1, 1)))
    for settings, grid in cases:
        net = transformer(**settings).eval()
        fmap = net.feature_map(torch.randn(2, 3, 4, 16, 16))
        assert fmap.shape == (2, 16, 1 + math.prod(grid))
        assert net.class_maps(fmap).shape == (2, 3, *grid)
    assert transformer(frame_encoder="patch", patch_size=4, keep_tokens=0.5, pool_after=1).class_maps is None


def test_frame_grid_tokens_see_their_own_part_of_the_face():
    net = transformer(frame_grid=2).eval()
    x = torch.randn(1, 3, 4, 16, 16)
    moved = x.clone()
    moved[..., 15, 15] += 5.0  # the bottom-right pixel of every frame
    before, after = net.tokens(x), net.tokens(moved)  # 1 x (4 frames * 2 * 2) x D, time-major
    changed = (after - before).abs().amax(-1).view(4, 2, 2) > 1e-6
    # the top-left token's receptive field (input pixels 0..7) does not reach the moved pixel
    assert changed[:, 1, 1].all() and not changed[:, 0, 0].any()
    with pytest.raises(ValueError, match="frame_grid"):
        transformer(frame_grid=0)


@pytest.mark.parametrize("encoder, reach", [("cnn", 0), ("tubelet", 3), ("resnet", 5)])
def test_a_frames_tokens_see_as_far_in_time_as_the_encoder_reaches(encoder, reach):
    """The per-frame CNN's tokens see their own frame; the tubelet's three 3 x 3 x 3 layers, 3 frames
    each way; the residual tokenizer's stem and two blocks of two such layers, 5."""
    net = TemporalTransformer(num_classes=3, num_frames=8, input_size=(16, 16), frame_encoder=encoder, dim=16).eval()
    x = torch.randn(1, 3, 8, 16, 16)
    moved = x.clone()
    moved[:, :, 0] += 1.0  # the first frame only
    changed = (net.tokens(moved) - net.tokens(x)).abs().amax(-1)[0] > 1e-6  # a token a frame
    assert changed.tolist() == [t <= reach for t in range(8)]


def test_query_pooling_is_an_option_that_leaves_the_default_as_it_was():
    torch.manual_seed(0)
    default = transformer().eval()
    assert not any(name.startswith("pool.") for name in default.state_dict())
    x = torch.randn(2, 3, 4, 16, 16)
    tokens = default.feature_map(x)
    torch.testing.assert_close(default(x), default.head(tokens[:, :, 0]))
    pooled = transformer(pooling="query").eval()
    assert {name for name in pooled.state_dict() if name.startswith("pool.")} >= {"pool.query"}
    assert pooled(x).shape == (2, 3)
    with pytest.raises(ValueError, match="pooling must be one of cls, query, mean"):
        transformer(pooling="max")


def test_mean_pooling_makes_the_logits_the_mean_of_the_tokens_class_evidence():
    net = transformer(frame_grid=2, pooling="mean").eval()
    x = torch.randn(2, 3, 4, 16, 16)
    evidence = net.class_maps(net.feature_map(x))  # 2 x 3 classes x 4 x 2 x 2 tokens
    torch.testing.assert_close(net(x), evidence.mean(dim=(2, 3, 4)) + net.head.bias)
