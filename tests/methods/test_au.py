import pytest
import torch
import torch.nn.functional as F

from mer.data.annotations import au_code
from mer.evaluation.metrics import au_scores
from mer.methods.au import AUHead, au_targets, au_vocabulary, cooccurrence_graph, masked_bce


@pytest.mark.parametrize(("code", "expected"), [("4", "4"), ("AU4", "4"), ("L12", "12"), ("R12B", "12"), ("au01", "1")])
def test_au_codes_drop_side_and_intensity(code, expected):
    assert au_code(code) == expected


def test_targets_and_mask_from_training_annotations():
    aus = [("1", "2"), ("L12",), (), ("4", "R12"), ("1", "26")]
    vocabulary = au_vocabulary(aus, min_count=2)
    assert vocabulary == ["1", "12"]  # 2, 4 and 26 occur once
    targets, mask = au_targets(aus, vocabulary)
    assert targets.tolist() == [[1, 0], [0, 1], [0, 0], [0, 1], [1, 0]]
    assert mask.tolist() == [True, True, False, True, True]


def test_au_loss_ignores_samples_without_au_labels():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5], [9.0, -9.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    mask = torch.tensor([True, False, True])
    expected = (
        -(F.logsigmoid(torch.tensor(2.0)) + F.logsigmoid(torch.tensor(1.0)))
        - (F.logsigmoid(torch.tensor(-9.0)) + F.logsigmoid(torch.tensor(-9.0)))
    ) / 4
    torch.testing.assert_close(masked_bce(logits, targets, mask), expected)
    changed = logits.clone()
    changed[1] = torch.tensor([-7.0, 7.0])
    torch.testing.assert_close(masked_bce(changed, targets, mask), expected)
    assert masked_bce(logits, targets, torch.zeros(3, dtype=torch.bool)) == 0


def test_cooccurrence_graph_links_aus_that_occur_together():
    # AU a in 4 samples, b in 2 (always with a), c in 1 alone: P(b|a) = 0.5, P(a|b) = 1
    targets = torch.tensor([[1.0, 1, 0], [1, 1, 0], [1, 0, 0], [1, 0, 0], [0, 0, 1]])
    graph = cooccurrence_graph(targets, threshold=0.4)
    adjacency = torch.tensor([[1.0, 1, 0], [1, 1, 0], [0, 0, 1]])
    degree = adjacency.sum(1).rsqrt()
    torch.testing.assert_close(graph, degree[:, None] * adjacency * degree[None, :])
    assert cooccurrence_graph(targets, threshold=0.6)[0, 1] == 0  # P(b|a) = 0.5 < 0.6


def test_graph_head_gives_one_logit_per_au_and_trains():
    torch.manual_seed(0)
    head = AUHead(8, 3, graph=cooccurrence_graph(torch.eye(3)))
    features = torch.randn(5, 8)
    assert head(features).shape == (5, 3)
    masked_bce(head(features), torch.ones(5, 3), torch.ones(5, dtype=torch.bool)).backward()
    assert head.nodes.grad.abs().sum() > 0 and head.gc2.weight.grad.abs().sum() > 0


def test_au_f1_per_au_over_annotated_samples():
    annotated = [["1", "2"], ["1"], [], ["4"]]
    predicted = [["1"], ["1", "4"], ["1"], []]
    scores = au_scores(annotated, predicted)
    # AU1: tp 2, fp 0, fn 0 -> 1; AU2: fn 1 -> 0; AU4: fp 1, fn 1 -> 0. Sample 3 has no annotation.
    assert scores["num_samples"] == 3
    assert scores["f1"] == {"1": 1.0, "2": 0.0, "4": 0.0}
    assert scores["support"] == {"1": 2, "2": 1, "4": 1}
    assert scores["mean_f1"] == pytest.approx(1 / 3)
