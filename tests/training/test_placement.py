"""The three failures of the first CUDA run, caught on a CPU: a 2-D model in channels-last-3d, a loss
whose class weights stay behind on the CPU, a CPU generator handed to a model on another device.

A "meta" runtime stands in for the GPU: whatever the training loop leaves on the CPU shows up as a
device that is not the runtime's.
"""

import pytest
import torch
from torch.utils.data import TensorDataset

from mer.data.transforms import Normalization
from mer.losses import CrossEntropy
from mer.models.ststnet import STSTNet
from mer.training.device import Runtime
from mer.training.trainer import train_model
from tests.models.test_models import IMAGE_MODELS, MODELS, build


@pytest.mark.parametrize("model", MODELS)
def test_every_model_trains_a_step_with_channels_last_on(model):
    torch.manual_seed(0)
    runtime = Runtime(device=torch.device("cpu"), channels_last=True)
    net = runtime.prepare(build(model, num_classes=3).train())
    clips = torch.randint(0, 255, (2, 1, 28, 28, 3) if model in IMAGE_MODELS else (2, 8, 32, 32, 3), dtype=torch.uint8)
    x = runtime.model_input(clips, Normalization(mean=[0.5] * 3, std=[0.25] * 3))
    logits = net(x)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2])).backward()
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
    layouts = [p.is_contiguous(memory_format=torch.channels_last_3d) for p in net.parameters() if p.dim() == 5]
    assert all(layouts)


class _Seen(Exception):
    """Raised at the first loss: what the loop had placed by then is recorded."""


class _RecordingLoss(CrossEntropy):
    def forward(self, logits, target, sample_weight=None):
        self.seen = {"weight": self.weight.device, "counts": self.counts.device, "logits": logits.device}
        raise _Seen


class _RecordingSTSTNet(STSTNet):
    def forward(self, x):
        self.seen_generator = self.generator.device
        self.seen_parameters = {p.device for p in self.parameters()} | {b.device for b in self.buffers()}
        return torch.zeros(len(x), self.fc.out_features, device=x.device, requires_grad=True)


class _MetaRuntime(Runtime):
    """Meta tensors have no generator of their own: a stand-in that carries the device."""

    def dropout_generator(self, fold_generator, seed):
        return torch.Generator().manual_seed(seed) if self.device.type == "cpu" else _MetaGenerator()


class _MetaGenerator:
    device = torch.device("meta")


def test_the_loss_the_model_and_its_dropout_generator_follow_the_runtime_device():
    meta = torch.device("meta")
    model = _RecordingSTSTNet(num_classes=3)
    loss = _RecordingLoss(class_counts=[2, 1, 1], weighting="inverse")
    data = TensorDataset(torch.randint(0, 255, (4, 1, 28, 28, 3), dtype=torch.uint8), torch.tensor([0, 1, 2, 0]))
    with pytest.raises(_Seen):
        train_model(
            model,
            data,
            loss_fn=loss,
            optimizer=lambda params: torch.optim.AdamW(params),
            epochs=1,
            batch_size=4,
            runtime=_MetaRuntime(device=meta),
            norm=Normalization(mean=[0.5] * 3, std=[0.25] * 3),
            labels=[0, 1, 2, 0],
            num_classes=3,
            progress=False,
            in_memory=True,
        )
    assert model.seen_parameters == {meta}
    assert model.seen_generator == meta
    assert loss.seen == {"weight": meta, "counts": meta, "logits": meta}


def test_a_cpu_run_draws_dropout_from_the_fold_generator_and_a_gpu_run_from_one_on_the_gpu():
    fold = torch.Generator().manual_seed(3)
    assert Runtime(device=torch.device("cpu")).dropout_generator(fold, 3) is fold
    if torch.cuda.is_available():
        generator = Runtime(device=torch.device("cuda")).dropout_generator(fold, 3)
        assert generator.device.type == "cuda" and generator.initial_seed() == 3


def test_channels_last_is_kept_for_3d_convolutions_only():
    runtime = Runtime(device=torch.device("cpu"), channels_last=True)
    assert runtime.suited_to(build("r3d")).channels_last
    assert not runtime.suited_to(build("transformer")).channels_last
    assert not runtime.suited_to(build("ststnet")).channels_last
