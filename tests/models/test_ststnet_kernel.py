import pytest
import torch
import torch.nn.functional as F

from mer.models import ststnet_kernel
from mer.models.ststnet import STSTNet

needs_kernel = pytest.mark.skipif(ststnet_kernel.load() is None, reason="no C compiler for the compiled stem")


def _reference(x, weight, bias):
    """The stem's outputs from torch's layers in float64."""
    r = F.relu(F.conv2d(x.double(), weight.double(), bias.double(), padding=2))
    return r.mean((0, 2, 3)), (r * r).mean((0, 2, 3)), F.max_pool2d(r, 3, stride=3, padding=1)


def _inputs(n, cin, h, w):
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(n, cin, h, w, generator=generator)
    weight = (torch.randn(16, cin, 3, 3, generator=generator) * 0.4).requires_grad_()
    bias = (torch.randn(16, generator=generator) * 0.1).requires_grad_()
    return x, weight, bias


@needs_kernel
@pytest.mark.parametrize("shape", [(6, 3, 28, 28), (5, 2, 19, 23)])  # 23 + 2 = 25 positions: a partial block
def test_compiled_stem_forward_and_gradients_match_the_layers(shape):
    x, weight, bias = _inputs(*shape)
    outputs = ststnet_kernel.CompiledStem.apply(x, weight, bias)
    expected = _reference(x, weight, bias)
    for got, want in zip(outputs, expected, strict=True):
        assert got.shape == want.shape
        assert torch.allclose(got.double(), want, rtol=1e-5, atol=1e-6)
    # an arbitrary loss of all three outputs
    probes = [torch.randn(o.shape, generator=torch.Generator().manual_seed(i)) for i, o in enumerate(outputs)]
    sum(((o * p).sum() for o, p in zip(outputs, probes, strict=True))).backward()
    compiled = weight.grad.clone(), bias.grad.clone()
    weight.grad = bias.grad = None
    sum(((o * p.double()).sum() for o, p in zip(_reference(x, weight, bias), probes, strict=True))).backward()
    for got, want in zip(compiled, (weight.grad, bias.grad), strict=True):
        assert torch.allclose(got, want.float(), rtol=1e-4, atol=1e-5 * want.abs().max().item())


@needs_kernel
def test_compiled_and_torch_stems_train_ststnet_alike():
    torch.manual_seed(0)
    nets = [STSTNet(num_classes=3, dropout=0.0, compiled=c) for c in (True, False)]
    nets[1].load_state_dict(nets[0].state_dict())
    x, y = torch.rand(40, 3, 28, 28), torch.randint(0, 3, (40,))
    for net in nets:
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(5):
            optimizer.zero_grad()
            F.cross_entropy(net.train()(x), y).backward()
            optimizer.step()
    for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-5)


def test_the_kernel_applies_only_to_float32_sixteen_channel_cpu_stems():
    x, weight, _ = _inputs(2, 3, 8, 8)
    assert not ststnet_kernel.applies(x.double(), weight.double())
    assert not ststnet_kernel.applies(x, weight[:8])
    assert not ststnet_kernel.applies(torch.rand(2, 8, 8, 8), torch.rand(16, 8, 3, 3))  # 72 taps > 64


@pytest.fixture
def fresh_kernel(monkeypatch, tmp_path):
    """load() as on a new machine: an empty kernel cache, and nothing cached in this process."""
    monkeypatch.setenv("MER_CACHE", str(tmp_path))
    ststnet_kernel.load.cache_clear()
    yield tmp_path / "kernels"
    ststnet_kernel.load.cache_clear()


@needs_kernel
def test_the_kernel_is_built_once_into_the_cache(fresh_kernel):
    assert ststnet_kernel.load() is not None
    (built,) = fresh_kernel.glob("ststnet_stem-*.so")
    stamp = built.stat().st_mtime_ns
    ststnet_kernel.load.cache_clear()
    assert ststnet_kernel.load() is not None
    assert [p.stat().st_mtime_ns for p in fresh_kernel.glob("*.so")] == [stamp]  # reused, not rebuilt


def test_without_a_compiler_ststnet_trains_on_torch_ops(fresh_kernel, monkeypatch):
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CC", raising=False)
    assert ststnet_kernel.load() is None
    x = torch.rand(8, 3, 28, 28)
    assert not ststnet_kernel.applies(x, torch.rand(16, 3, 3, 3))
    net = STSTNet(num_classes=3).train()
    F.cross_entropy(net(x), torch.randint(0, 3, (8,))).backward()
    assert net.conv.weight.grad.abs().sum() > 0


@needs_kernel
def test_another_cpu_gets_its_own_build(fresh_kernel, monkeypatch):
    assert ststnet_kernel.load() is not None
    ststnet_kernel.load.cache_clear()
    monkeypatch.setattr(ststnet_kernel, "_cpu", lambda: "model name : another CPU")
    assert ststnet_kernel.load() is not None
    assert len(list(fresh_kernel.glob("ststnet_stem-*.so"))) == 2


def test_a_compiler_that_fails_leaves_the_torch_ops(fresh_kernel, monkeypatch):
    monkeypatch.setenv("CC", "false")  # found on PATH, exits 1 for every flag set
    assert ststnet_kernel.load() is None
    assert not list(fresh_kernel.glob("*.so"))
