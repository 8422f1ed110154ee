from pathlib import Path

import pytest

from mer.atomic import atomic_file, write_csv_atomic, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "out.txt"
    write_text_atomic(path, "old")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", broken_fsync)
    with pytest.raises(OSError):
        write_text_atomic(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_csv(tmp_path):
    write_csv_atomic(tmp_path / "a.csv", ["x", "y"], [[1, "a,b"]])
    assert (tmp_path / "a.csv").read_text() == 'x,y\n1,"a,b"\n'


def test_two_writers_of_one_file_each_have_their_own_temporary(tmp_path):
    path = tmp_path / "out.txt"
    with atomic_file(path) as first, atomic_file(path) as second:
        assert first.name != second.name and Path(first.name).parent == tmp_path
        first.write(b"first")
        second.write(b"second")
    assert path.read_text() == "first"  # the last to finish wins, whole
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
