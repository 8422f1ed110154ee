import pytest

from mer.evaluation.metrics import score

CLASSES = ["negative", "positive", "surprise"]


def test_uf1_uar_against_hand_computed_values():
    # class 0: P 2/2, R 2/3, F1 0.8; class 1: P 1/2, R 1/2, F1 0.5; class 2: P 1/2, R 1, F1 2/3
    result = score([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], CLASSES)
    assert result["uf1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert result["uar"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert result["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert result["support"] == {"negative": 3, "positive": 2, "surprise": 1}


def test_a_class_without_true_samples_is_listed_and_its_predictions_still_count():
    result = score([0, 0, 1, 1], [0, 2, 1, 1], CLASSES)
    assert result["classes_without_samples"] == ["surprise"]
    # class 0: P 1, R 1/2, F1 2/3; class 1: F1 1; the wrong "surprise" costs class 0 its recall
    assert result["uf1"] == pytest.approx((2 / 3 + 1) / 2)
    assert result["uar"] == pytest.approx((0.5 + 1) / 2)
    assert "surprise" not in result["recall"]


def test_empty_predictions_are_an_error():
    with pytest.raises(ValueError):
        score([], [], CLASSES)
