"""Class lists and the mapping from a dataset's emotion words onto them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LabelSpace:
    """The classes a run predicts, and how annotated emotions map onto them.

    ``mapping`` sends an annotated emotion (case-insensitive) to a class name, or to ``None`` to
    leave the sample out (as the MEGC composite leaves out "others"). An emotion that is neither a
    class name nor a key of ``mapping`` is an error, so a typo in a sheet never becomes a silent drop.
    """

    names: tuple[str, ...]
    mapping: Mapping[str, str | None] = field(default_factory=dict)

    def __init__(self, names: Sequence[str], mapping: Mapping[str, str | None] | None = None):
        names = tuple(str(n).lower() for n in names)
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"class names must be unique and non-empty, got {list(names)}")
        lowered = {str(k).lower(): (None if v is None else str(v).lower()) for k, v in (mapping or {}).items()}
        for emotion, target in lowered.items():
            if target is not None and target not in names:
                raise ValueError(f"mapping sends {emotion!r} to {target!r}, which is not one of {list(names)}")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "mapping", lowered)

    def __len__(self) -> int:
        return len(self.names)

    def to_index(self, emotion: str) -> int | None:
        """Class index of an annotated emotion, ``None`` if the mapping leaves it out.

        Raises:
            KeyError: the emotion is unknown to this label space.
        """
        key = str(emotion).strip().lower()
        if key in self.mapping:
            target = self.mapping[key]
            return None if target is None else self.names.index(target)
        if key in self.names:
            return self.names.index(key)
        known = sorted(set(self.names) | set(self.mapping))
        raise KeyError(f"unknown emotion {emotion!r}; known: {', '.join(known)}")
