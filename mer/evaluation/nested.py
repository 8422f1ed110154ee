"""Nested subject-independent validation of a choice among settings.

A setting picked as the best on the same subjects it is scored on reports its luck as accuracy.
Here each subject in turn is held out; the setting chosen on the other subjects alone (from what
they alone give, e.g. a prior fitted on them) is scored on the held-out one. The result over all
subjects is what to expect of the whole procedure on a subject not seen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def nested_choices(choose: Callable[[np.ndarray], int], subjects: Sequence[str]) -> dict[str, int]:
    """Each subject's setting, ``choose(train)`` from the clips where the boolean mask ``train``
    holds: every clip but the subject's."""
    subjects = np.asarray(subjects)
    return {str(s): choose(subjects != s) for s in np.unique(subjects)}


def nested_errors(
    errors: Callable[[np.ndarray], np.ndarray], subjects: Sequence[str]
) -> tuple[np.ndarray, dict[str, int]]:
    """Each clip's error under the setting chosen without its subject, and each subject's choice.

    ``errors(train)`` gives a ``settings x clips`` table of errors for every clip, from what the
    clips where the boolean mask ``train`` holds give; the choice is the row with the lowest mean
    over those clips.
    """
    subjects = np.asarray(subjects)
    out = np.zeros(len(subjects))

    def choose(train: np.ndarray) -> int:
        table = np.asarray(errors(train))
        best = int(table[:, train].mean(axis=1).argmin())
        out[~train] = table[best, ~train]
        return best

    return out, nested_choices(choose, subjects)
