import torch
from torch import nn

from mer.losses import CrossEntropy
from mer.methods.uncertainty import UncertaintyMixing


def test_mixing_a_sample_with_itself_is_the_plain_loss():
    torch.manual_seed(0)
    features, target = torch.randn(6, 5), torch.tensor([0, 1, 2, 0, 1, 2])
    classifier, loss_fn = nn.Linear(5, 3), CrossEntropy(class_counts=[2, 2, 2])
    mixing = UncertaintyMixing(5)
    mixed = mixing.loss(features, target, classifier=classifier, loss_fn=loss_fn, partner=torch.arange(6))
    torch.testing.assert_close(mixed, loss_fn(classifier(features), target))


def test_mixing_weights_favour_the_less_uncertain_sample():
    features, target = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])
    classifier = nn.Linear(2, 2, bias=False)
    classifier.weight.data = torch.eye(2)
    mixing = UncertaintyMixing(2)
    mixing.uncertainty = lambda f: torch.tensor([1.0, 3.0])  # sample 0 is the certain one
    loss_fn = CrossEntropy(class_counts=[1, 1])
    loss = mixing.loss(features, target, classifier=classifier, loss_fn=loss_fn, partner=torch.tensor([1, 0]))
    # lam_0 = 3 / 4: both mixed features are [0.75, 0.25]; sample 0 wants class 0 with 3/4, class 1 with 1/4
    log_p = torch.log_softmax(torch.tensor([0.75, 0.25]), dim=0)
    expected = (-(0.75 * log_p[0] + 0.25 * log_p[1]) - (0.25 * log_p[1] + 0.75 * log_p[0])) / 2
    torch.testing.assert_close(loss, expected)


def test_a_sample_whose_label_its_features_contradict_gains_by_raising_its_uncertainty():
    features = torch.tensor([[3.0, 0.0], [3.0, 0.0]])  # both look like class 0
    labels = torch.tensor([1, 0])  # sample 0's label is contradicted, sample 1's agrees
    classifier = nn.Linear(2, 2, bias=False)
    classifier.weight.data = torch.eye(2)
    u = torch.tensor([1.0, 1.0], requires_grad=True)
    mixing = UncertaintyMixing(2)
    mixing.uncertainty = lambda f: u
    loss = mixing.loss(
        features, labels, classifier=classifier, loss_fn=CrossEntropy(class_counts=[1, 1]), partner=torch.tensor([1, 0])
    )
    loss.backward()
    assert u.grad[0] < 0 < u.grad[1]  # gradient descent raises u_0 and lowers u_1
