"""FaceTopoNet on flow images: the learned tree, gradients to every part, a toy it must learn."""

import numpy as np
import torch

from mer.models.facetoponet import INNER, NOSE_TIP, FaceTopoNet, canonical_landmarks, tree_order


def test_canonical_landmarks_lie_where_a_face_crop_has_them():
    points = canonical_landmarks()
    assert points.shape == (68, 2)
    left_eye, right_eye, nose, chin = points[36:42].mean(0), points[42:48].mean(0), points[30], points[8]
    assert left_eye[0] < nose[0] < right_eye[0] and left_eye[1] < nose[1] < chin[1]
    assert (points[list(INNER)] > 0).all() and (points[list(INNER)] < 1).all()


def test_the_tree_is_the_maximum_spanning_tree_in_depth_first_order():
    weights = np.array([[0, 5, 1, 1], [5, 0, 4, 1], [1, 4, 0, 3], [1, 1, 3, 0]], dtype=float)
    order, parents = tree_order(weights, root=0)
    assert order.tolist() == [0, 1, 2, 3] and parents.tolist() == [-1, 0, 1, 2]  # the chain of the heaviest edges
    order, parents = tree_order(weights, root=2)
    assert order[0] == 2 and parents[0] == -1 and sorted(order.tolist()) == [0, 1, 2, 3]
    seen = {2}
    for node, parent in zip(order[1:], parents[1:], strict=True):
        assert parent in seen  # every parent comes before its children
        seen.add(node)


def test_every_part_gets_a_gradient_and_the_tree_starts_at_the_nose():
    torch.manual_seed(0)
    net = FaceTopoNet(num_classes=3)
    out = net(torch.rand(4, 3, 1, 28, 28))
    assert out.shape == (4, 3)
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    order, parents = net.topology()
    assert INNER[order[0]] == NOSE_TIP and sorted(order.tolist()) == list(range(len(INNER)))
    assert (parents[1:] >= 0).all()


def test_it_learns_where_on_the_face_the_flow_is():
    """Flow at the mouth corners, at the brows or nowhere: a toy of three classes only landmarks tell apart."""
    torch.manual_seed(0)
    points = canonical_landmarks()
    x = torch.zeros(24, 3, 28, 28)
    y = torch.arange(24) % 3
    for i, label in enumerate(y.tolist()):
        for k in ([48, 54], [19, 24], [])[label]:
            col, row = (points[k] * 28).astype(int)
            x[i, 1, row - 1 : row + 2, col - 1 : col + 2] = 0.8
    x += 0.05 * torch.randn_like(x)
    net = FaceTopoNet(num_classes=3, hidden=16, dropout=0.0)
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
    assert (net(x).argmax(1) == y).float().mean() == 1.0


def test_one_fold_of_the_composite(tmp_path):
    import pytest
    from hydra import compose, initialize_config_dir

    from mer.experiment import run
    from tests.conftest import CONFIGS, SHARED_DATA

    composite = SHARED_DATA / "megc2019_composite"
    if not (composite / "samples.csv").is_file():
        pytest.skip("../shared MEGC 2019 composite absent")
    overrides = ["dataset=megc2019_flow", "model=facetoponet", f"dataset.root={composite}", "trainer.epochs=1"]
    overrides.append("trainer.num_threads=1")
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("config", overrides=[*overrides, "evaluation.max_folds=1", "trainer.progress=false"])
    results = run(cfg, tmp_path / "run")
    assert results["num_folds"] == 1 and results["partial"] and 0 <= results["uf1"] <= 1
