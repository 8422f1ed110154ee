import numpy as np

from mer.evaluation.nested import nested_errors


def test_each_subject_is_scored_under_the_setting_best_on_the_others():
    subjects = ["a", "a", "b", "c"]
    # setting 0 is best in-sample (mean 1.5) only thanks to subject b; setting 1 wins without b
    table = np.array([[2.0, 2.0, 0.0, 2.0], [1.0, 1.0, 9.0, 1.0]])
    seen = []

    def errors(train: np.ndarray) -> np.ndarray:
        seen.append(train.tolist())
        return table

    nested, chosen = nested_errors(errors, subjects)
    assert chosen == {"a": 0, "b": 1, "c": 0}
    assert nested.tolist() == [2.0, 2.0, 9.0, 2.0]
    assert nested.mean() > table.mean(axis=1).min()  # the honest estimate is worse than the best row
    assert seen[1] == [True, True, False, True]  # the table is made without the held-out subject
