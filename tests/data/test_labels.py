import pytest

from mer.data.labels import LabelSpace


def test_class_names_and_mapping_are_case_insensitive():
    space = LabelSpace(["negative", "positive", "surprise"], {"Disgust": "negative", "others": None})
    assert [space.to_index(e) for e in ("DISGUST", "positive", " Surprise ")] == [0, 1, 2]
    assert space.to_index("others") is None


def test_unknown_emotion_and_bad_mapping_fail():
    space = LabelSpace(["a", "b"])
    with pytest.raises(KeyError, match="unknown emotion 'c'"):
        space.to_index("c")
    with pytest.raises(ValueError, match="not one of"):
        LabelSpace(["a"], {"x": "b"})
