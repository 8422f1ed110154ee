"""Each loss against values computed by hand from its formula on small logits."""

import math

import pytest
import torch

from mer.losses import CouplingRegulationLoss, CrossEntropy, FocalLoss, LDAMLoss, class_weights

LOGITS = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
TARGET = torch.tensor([0, 2])
COUNTS = [8, 2, 1]


def softmax(row):
    e = [math.exp(v) for v in row]
    return [v / sum(e) for v in e]


P0 = softmax([2.0, 0.0, -1.0])[0]  # true-class probability of sample 0
P1 = softmax([0.5, 1.5, 0.0])[2]  # ... of sample 1


def test_class_weights_inverse_and_effective_number():
    assert class_weights(COUNTS, "inverse").tolist() == pytest.approx([3 * x / 1.625 for x in (1 / 8, 1 / 2, 1)])
    raw = [(1 - 0.999) / (1 - 0.999**n) for n in COUNTS]
    assert class_weights(COUNTS, "effective").tolist() == pytest.approx([3 * r / sum(raw) for r in raw], rel=1e-5)
    assert class_weights([4, 0, 4], "inverse").tolist() == [1, 0, 1]  # an absent class weighs nothing
    assert class_weights(COUNTS, "none").tolist() == [1, 1, 1]


def test_cross_entropy_plain_weighted_and_smoothed():
    plain = (-math.log(P0) - math.log(P1)) / 2
    assert CrossEntropy(class_counts=COUNTS)(LOGITS, TARGET).item() == pytest.approx(plain, rel=1e-6)
    w = [3 * x / 1.625 for x in (1 / 8, 1 / 2, 1)]
    weighted = (w[0] * -math.log(P0) + w[2] * -math.log(P1)) / (w[0] + w[2])
    loss = CrossEntropy(class_counts=COUNTS, weighting="inverse")(LOGITS, TARGET)
    assert loss.item() == pytest.approx(weighted, rel=1e-6)
    eps = 0.1  # smoothing: (1 - eps) on the target plus eps spread uniformly over the classes
    logp0 = [math.log(p) for p in softmax([2.0, 0.0, -1.0])]
    logp1 = [math.log(p) for p in softmax([0.5, 1.5, 0.0])]
    smooth = sum(-(1 - eps) * lp[t] - eps / 3 * sum(lp) for lp, t in ((logp0, 0), (logp1, 2))) / 2
    loss = CrossEntropy(class_counts=COUNTS, label_smoothing=eps)(LOGITS, TARGET)
    assert loss.item() == pytest.approx(smooth, rel=1e-6)


def test_focal_loss():
    expected = (-((1 - P0) ** 2) * math.log(P0) - (1 - P1) ** 2 * math.log(P1)) / 2
    assert FocalLoss(class_counts=COUNTS, gamma=2)(LOGITS, TARGET).item() == pytest.approx(expected, rel=1e-6)
    assert FocalLoss(class_counts=COUNTS, gamma=0)(LOGITS, TARGET).item() == pytest.approx(
        (-math.log(P0) - math.log(P1)) / 2, rel=1e-6
    )


def ldam_probabilities(max_margin=0.5, scale=30.0):
    margins = [n**-0.25 for n in COUNTS]
    margins = [m * max_margin / max(margins) for m in margins]  # [0.2973, 0.4204, 0.5]
    z0 = [scale * v for v in (2.0 - margins[0], 0.0, -1.0)]
    z1 = [scale * v for v in (0.5, 1.5, 0.0 - margins[2])]
    return margins, softmax(z0)[0], softmax(z1)[2]


def test_ldam_margins_and_loss():
    margins, q0, q1 = ldam_probabilities()
    loss = LDAMLoss(class_counts=COUNTS, max_margin=0.5, scale=30.0)
    assert loss.margins.tolist() == pytest.approx(margins, rel=1e-6)
    assert margins[2] == pytest.approx(0.5) and margins[0] == pytest.approx(0.5 * 8**-0.25)
    assert loss(LOGITS, TARGET).item() == pytest.approx((-math.log(q0) - math.log(q1)) / 2, rel=1e-5)


def test_coupling_regulation_loss():
    _, q0, q1 = ldam_probabilities()
    gamma, delta = 2.0, 0.5
    expected = sum(-((1 - q) ** gamma) * q**delta * math.log(q) for q in (q0, q1)) / 2
    loss = CouplingRegulationLoss(class_counts=COUNTS, gamma=gamma, delta=delta, scale=30.0)(LOGITS, TARGET)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_regulation_damps_near_impossible_samples():
    """Attention (the factor on -log p) peaks at p = delta / (gamma + delta), then falls for outliers."""
    loss = CouplingRegulationLoss(class_counts=[1, 1], gamma=2.0, delta=0.5, max_margin=1e-9, scale=1.0)
    factors = {}
    for p in (0.01, 0.2, 0.6):
        logit = math.log(p / (1 - p))
        value = loss(torch.tensor([[logit, 0.0]]), torch.tensor([0])).item()
        factors[p] = value / -math.log(p)
    assert factors[0.2] > factors[0.01] and factors[0.2] > factors[0.6]
