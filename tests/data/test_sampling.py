import pytest

from mer.data.sampling import sample_frames


@pytest.mark.parametrize(
    ("onset", "offset", "num_frames", "expected"),
    [
        (10, 24, 8, [10, 12, 14, 16, 18, 20, 22, 24]),
        (0, 10, 4, [0, 3, 7, 10]),
        (0, 1, 3, [0, 1, 1]),  # 0.5 rounds up
        (5, 7, 8, [5, 5, 6, 6, 6, 6, 7, 7]),  # shorter than T: frames repeat
        (101, 160, 1, [131]),
    ],
)
def test_uniform(onset, offset, num_frames, expected):
    assert sample_frames("uniform", onset=onset, apex=None, offset=offset, num_frames=num_frames) == expected


def test_onset_apex_offset_takes_the_three_key_frames():
    assert sample_frames("onset_apex_offset", onset=46, apex=59, offset=86, num_frames=8) == [46, 59, 86]


def test_onset_apex():
    assert sample_frames("onset_apex", onset=0, apex=7, offset=30, num_frames=8) == list(range(8))
    assert sample_frames("onset_apex", onset=10, apex=16, offset=30, num_frames=4) == [10, 12, 14, 16]


@pytest.mark.parametrize(
    ("onset", "apex", "offset", "num_frames", "stride", "expected"),
    [
        (0, 10, 30, 4, 1, [8, 9, 10, 11]),
        (0, 10, 30, 4, 2, [6, 8, 10, 12]),
        (0, 10, 30, 5, 1, [8, 9, 10, 11, 12]),
        (0, 1, 30, 4, 1, [0, 1, 2, 3]),  # shifted right to stay after onset
        (0, 29, 30, 4, 1, [27, 28, 29, 30]),  # shifted left to stay before offset
        (0, 1, 2, 4, 1, [0, 1, 2, 2]),  # shorter than T: the last frame repeats
    ],
)
def test_apex_centred(onset, apex, offset, num_frames, stride, expected):
    got = sample_frames("apex_centred", onset=onset, apex=apex, offset=offset, num_frames=num_frames, stride=stride)
    assert got == expected


def test_missing_apex_falls_back_to_the_middle_frame_with_a_warning():
    with pytest.warns(UserWarning, match="clipA.*middle frame 6"):
        got = sample_frames("onset_apex_offset", onset=3, apex=None, offset=10, num_frames=3, clip="clipA")
    assert got == [3, 6, 10]
    with pytest.warns(UserWarning):
        assert sample_frames("onset_apex", onset=0, apex=None, offset=14, num_frames=3) == [0, 4, 7]


def test_uniform_needs_no_apex_and_does_not_warn(recwarn):
    sample_frames("uniform", onset=0, apex=None, offset=9, num_frames=4)
    assert not recwarn.list


def test_unknown_strategy_is_named():
    with pytest.raises(ValueError, match="unknown sampling strategy 'middle'"):
        sample_frames("middle", onset=0, apex=1, offset=2, num_frames=3)


def test_motion_places_frames_where_the_face_moves():
    numbers = list(range(20, 31))
    curve = [0, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5]  # moves over frames 20..25, rests after
    got = sample_frames("motion", onset=20, apex=25, offset=30, num_frames=6, curve=(numbers, curve))
    assert got == [20, 21, 22, 23, 24, 25]
    rise_and_fall = [0, 4, 4, 4, 4, 4, 4, 4, 4, 2, 0]  # a jump at the start, a fall at the end
    got = sample_frames("motion", onset=20, apex=21, offset=30, num_frames=5, curve=(numbers, rise_and_fall))
    assert got == [20, 21, 21, 29, 30]


def test_motion_without_motion_is_uniform_and_needs_a_matching_curve():
    flat = (list(range(0, 11)), [0.0] * 11)
    assert sample_frames("motion", onset=0, apex=5, offset=10, num_frames=3, curve=flat) == [0, 5, 10]
    with pytest.raises(ValueError, match="covers 0..10, annotation 0..12"):
        sample_frames("motion", onset=0, apex=5, offset=12, num_frames=3, curve=flat)
    with pytest.raises(ValueError, match="needs a motion curve"):
        sample_frames("motion", onset=0, apex=5, offset=10, num_frames=3)
