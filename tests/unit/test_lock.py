"""The run lock holds whatever happens to the lock file's path (real flocks, in one process)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clipforge.errors import LockedError
from clipforge.lock import RunLock


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("change", ["delete", "replace", "replace_with_dead_pid"])
def test_second_lock_is_refused_after_the_lock_file_is_deleted_or_replaced(change):
    first = RunLock()
    first.acquire()
    try:
        path = Path(".temp_clips.lock")
        path.unlink()
        if change == "replace":
            path.write_text("")
        elif change == "replace_with_dead_pid":
            path.write_text("999999999\n")
        with pytest.raises(LockedError) as err:
            RunLock().acquire()
        if change == "delete":
            assert "unknown" in str(err.value) or str(os.getpid()) in str(err.value)
    finally:
        first.release()
    with RunLock():  # released: the next run gets it
        pass


def test_lock_is_released_and_taken_over_with_a_note():
    Path(".temp_clips.lock").write_text("999999999\n")
    notes = []
    lock = RunLock()
    lock.acquire(note=notes.append)
    lock.release()
    assert notes == ["took over the lock of run 999999999, which is no longer running"]


def test_pid_of_the_holder_is_in_the_message():
    with RunLock():
        with pytest.raises(LockedError, match=f"pid {os.getpid()}"):
            RunLock().acquire()
