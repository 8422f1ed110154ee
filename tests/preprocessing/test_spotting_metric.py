import pytest

from mer.preprocessing.spotting_metric import hits, iou, score


def test_iou_of_inclusive_frame_intervals():
    assert iou((10, 19), (10, 19)) == 1
    assert iou((10, 19), (15, 24)) == pytest.approx(5 / 15)
    assert iou((10, 19), (20, 30)) == 0


def test_a_hit_needs_half_overlap_and_each_true_interval_counts_once():
    truth = [(100, 139), (300, 339)]
    assert hits([(105, 140)], truth) == 1
    assert hits([(120, 170)], truth) == 0  # IoU 20/71
    assert hits([(100, 139), (101, 139)], truth) == 1  # two spots of one expression: one hit


def test_precision_recall_and_f1_sum_hits_over_videos():
    result = score({"a": [(0, 9), (50, 59)], "b": [(0, 9)]}, {"a": [(0, 9)], "b": [(0, 9)], "c": [(5, 9)]})
    assert (result.hits, result.spotted, result.true) == (2, 3, 3)
    assert result.precision == pytest.approx(2 / 3) and result.recall == pytest.approx(2 / 3)
    assert result.f1 == pytest.approx(2 / 3)
    assert score({}, {}).f1 == 0
