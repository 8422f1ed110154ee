"""DDP: two processes with half the batch each train one fold to the weights one process reaches."""

import os
import socket
from functools import partial

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import TensorDataset

from mer.data.transforms import Normalization
from mer.training import distributed
from mer.training.device import resolve_runtime
from mer.training.trainer import train_model


def _data() -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    clips = torch.randint(0, 256, (32, 2, 4, 4, 3), dtype=torch.uint8, generator=generator)
    return TensorDataset(clips, torch.arange(32) % 3)


def _train(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(96, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    data = _data()
    train_model(
        model,
        data,
        loss_fn=torch.nn.CrossEntropyLoss(),
        optimizer=partial(torch.optim.SGD, lr=0.5),
        epochs=3,
        batch_size=8,
        runtime=resolve_runtime("cpu", num_threads=1),
        norm=Normalization(),
        labels=data.tensors[1].tolist(),
        num_classes=3,
        seed=5,
        progress=False,
    )
    if rank == 0:
        torch.save(model.state_dict(), out)
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_reach_the_weights_of_one(tmp_path):
    for world in (1, 2):
        mp.spawn(_train, args=(world, _free_port(), str(tmp_path / f"{world}.pt")), nprocs=world)
    one, two = (torch.load(tmp_path / f"{w}.pt", weights_only=True) for w in (1, 2))
    for name in one:
        assert torch.allclose(one[name], two[name], atol=1e-5), name
    torch.manual_seed(0)
    untrained = torch.nn.Linear(96, 16).weight
    assert not torch.allclose(one["1.weight"], untrained)


def test_each_process_takes_its_share_of_the_same_order(monkeypatch):
    order = torch.randperm(10, generator=torch.Generator().manual_seed(1))
    shares = []
    for r in range(3):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        monkeypatch.setattr(distributed, "world_size", lambda: 3)
        sampler = distributed.ShardedEpochs(lambda epoch: order, 10)
        shares.append(list(sampler))
        assert len(sampler) == len(shares[-1])
    assert sorted(sum(shares, [])) == list(range(10)) and shares[0] == order[0::3].tolist()
