"""Where a result came from: the code's git commit and a fingerprint of the data."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Sequence
from pathlib import Path

from mer.data.annotations import Sample


def git_commit() -> str | None:
    """The commit of the installed source tree, with ``-dirty`` if it has uncommitted changes."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def data_fingerprint(samples: Sequence[Sample]) -> str:
    """A digest of what was evaluated: every sample's subject, clip, key frames and label."""
    digest = hashlib.sha1()
    for s in samples:
        digest.update(f"{s.subject}|{s.clip}|{s.onset}|{s.apex}|{s.offset}|{s.label}|{s.dataset}\n".encode())
    return digest.hexdigest()[:16]
