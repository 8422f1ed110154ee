"""Shared fixtures: tiny clips on disk in both layouts, and the path of the real data when present."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from PIL import Image

from mer.compose import CONFIGS as CONFIGS  # the one configs folder, for the tests that compose
from mer.config import register
from mer.data.frames import write_video

register()  # the config schema Hydra's compose() needs, as mer.train registers it

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def tiny_clip_run(cache_dir: Path) -> list[str]:
    """Overrides for a run of seconds on fixture clips: 4 frames of 16 x 16 as released, one epoch."""
    return [
        "dataset.face.mode=none",
        "input.kind=clips",
        "input.size=[16,16]",
        "input.num_frames=4",
        "trainer.epochs=1",
        "trainer.progress=false",
        f"trainer.clip_cache_dir={cache_dir}",
    ]


def frame_value(number: int) -> int:
    """A distinct grey level per frame, so a read can be checked against the frame it claims to be."""
    return (number * 7) % 250


def write_frame_folder(
    folder: Path, numbers: Iterable[int], prefix: str = "img", size: int = 16, suffix: str = ".png"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        Image.fromarray(np.full((size, size, 3), frame_value(n), np.uint8)).save(folder / f"{prefix}{n}{suffix}")
    return folder


def write_test_video(path: Path, num_frames: int, size: int = 32) -> Path:
    frames = np.stack([np.full((size, size, 3), frame_value(n), np.uint8) for n in range(num_frames)])
    write_video(path, frames, fps=30)
    return path


@pytest.fixture
def frame_folder(tmp_path: Path) -> Path:
    return write_frame_folder(tmp_path / "sub01" / "EP01", range(101, 121))


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return write_test_video(tmp_path / "sub01" / "clip.mp4", 30)


def write_releases(root: Path) -> dict[str, Path]:
    """The three releases in miniature: CASME II and SAMM sheets with frames, SMIC folders."""
    (root / "casme2.csv").write_text(
        "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion\n"
        "1,EP02_01f,46,59,86,12,happiness\n"
        "1,EP03_02,131,140,161,18,others\n"  # others: out
        "4,EP12_01f,10,20,30,4,disgust\n"  # not in the official list
        "9,EP13_02,10,20,30,4,fear\n"  # CASME II's fear: out
        "17,EP15_01,10,20,30,4,repression\n"
    )
    (root / "samm.csv").write_text(
        "SAMM,,,,,,,,,,\n"
        "Subject,Filename,Inducement Code,Onset Frame,Apex Frame,Offset Frame,Duration,Type,Action Units,Notes,"
        "Estimated Emotion\n"
        "6,006_1_2,1,5562,5588,5632,71,Micro,4+7,,Contempt\n"
        "7,007_3_1,3,10,20,40,31,Micro,1+2,,Fear\n"  # SAMM's fear: negative
        "7,007_3_2,3,10,20,40,31,Micro,1+2,,Other\n"
    )
    for sub, clip, frames in (
        ("sub01", "EP02_01f", range(46, 87)),
        ("sub04", "EP12_01f", range(10, 31)),
        ("sub09", "EP13_02", range(10, 31)),
        ("sub17", "EP15_01", range(10, 31)),
        ("sub01", "EP03_02", range(131, 162)),
    ):
        write_frame_folder(root / "casme2" / sub / clip, frames)
    write_frame_folder(root / "samm" / "006" / "006_1_2", range(5562, 5633), prefix="006_0")
    for clip in ("007_3_1", "007_3_2"):
        write_frame_folder(root / "samm" / "007" / clip, range(10, 41), prefix="007_000")
    write_frame_folder(root / "smic" / "s1" / "micro" / "surprise" / "s1_sur_01", range(1, 12), prefix="image")
    (root / "official.csv").write_text(
        "dataset,sub,filename_o,label\n"
        "smic,s01,s01_sur_01,2\ncasme2,sub01,EP02_01f,1\ncasme2,sub17,EP15_01,0\n"
        "samm,006,006_1_2,0\nsamm,007,007_3_1,0\n"
    )
    return dict(
        casme2_root=root / "casme2",
        casme2_annotations=root / "casme2.csv",
        samm_root=root / "samm",
        samm_annotations=root / "samm.csv",
        smic_root=root / "smic",
    )


def write_casme_sq_workbook(
    path: Path,
    codes: Iterable[tuple],
    rule1: Iterable[tuple] = ((15, "s15", 1), (16, "s16", 2)),
    rule2: Iterable[tuple] = ((101, "disgust1"), (401, "anger1")),
) -> Path:
    """CAS(ME)^2's workbook: three worksheets, none with a header row."""
    workbook = openpyxl.Workbook()
    for title, rows in (("CASFEcode_final", codes), ("naming rule1", rule1), ("naming rule2", rule2)):
        sheet = workbook.active if title == "CASFEcode_final" else workbook.create_sheet()
        sheet.title = title
        for row in rows:
            sheet.append(list(row))
    workbook.save(path)
    return path
