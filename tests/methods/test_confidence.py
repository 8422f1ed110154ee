import torch

from mer.methods.confidence import ConfidenceWeighting


def test_rank_loss_hand_computed():
    labels = torch.zeros(4, dtype=torch.long)
    module = ConfidenceWeighting(2, labels=labels, num_classes=2, high_fraction=0.5, margin=0.3)
    confidence = torch.tensor([0.9, 0.2, 0.8, 0.7])
    # high group {0.9, 0.8} mean 0.85, low {0.7, 0.2} mean 0.45: gap 0.4 >= 0.3
    assert module.rank_loss(confidence) == 0
    torch.testing.assert_close(module.rank_loss(torch.tensor([0.9, 0.8, 0.7, 0.75])), torch.tensor(0.3 - 0.125))
    weights = module.sample_weights(confidence)
    torch.testing.assert_close(weights.mean(), torch.tensor(1.0))


def _planted(relabel_start: int = 0) -> ConfidenceWeighting:
    """Two tight clusters of 10; sample 3, labelled 0, sits in class 1's cluster and is the least confident."""
    labels = torch.tensor([0] * 10 + [1] * 10)
    module = ConfidenceWeighting(
        2, labels=labels, num_classes=2, relabel=True, relabel_start=relabel_start, relabel_fraction=0.1
    )
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(20, 2, generator=generator) * 0.05 + torch.tensor([[1.0, 0.0]] * 10 + [[0.0, 1.0]] * 10)
    features[3] = torch.tensor([0.05, 1.0])
    confidence = torch.linspace(0.5, 0.9, 20)
    confidence[3] = 0.01
    module.record(torch.arange(20), features, confidence)
    return module


def test_relabelling_moves_an_uncertain_sample_to_the_class_its_features_match():
    module = _planted()
    assert module.end_epoch(0) == 1
    assert module.relabelled() == {3: (0, 1)}
    assert module.targets(torch.tensor([3, 4])).tolist() == [1, 0]


def test_no_relabelling_during_warm_up_or_when_switched_off():
    module = _planted(relabel_start=5)
    assert module.end_epoch(4) == 0 and module.relabelled() == {}
    module.relabel = False
    assert module.end_epoch(9) == 0 and module.relabelled() == {}


def test_confident_samples_keep_their_labels():
    module = _planted()
    module.memory_confidence[3] = 0.95  # now the most confident sample: not a candidate
    assert module.end_epoch(0) <= 1 and 3 not in module.relabelled()
