"""Deletion rules: nothing outside temp_processing/ and nothing in clips/ is ever removed, whatever the links."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clipforge.state import RunState, delete_temp_files, remove_partials


def _snapshot(*roots: Path) -> dict[str, bytes | str]:
    """Every file (content) and link (target) under `roots`, by path."""
    seen: dict[str, bytes | str] = {}
    for root in roots:
        for folder, dirs, files in os.walk(root, followlinks=False):
            for name in files + dirs:
                path = Path(folder, name)
                if path.is_symlink():
                    seen[str(path)] = "->" + os.readlink(path)
                elif path.is_file():
                    seen[str(path)] = path.read_bytes()
    return seen


def _outside_world(base: Path) -> list[Path]:
    """A user's folder beside the project, and the project's clips/: both must survive every sweep."""
    outside = base / "outside"
    (outside / "x.dl").mkdir(parents=True)
    (outside / "movie.part.mp4").write_text("user's partial download")
    (outside / "keep.mp4").write_text("user data")
    (outside / "x.dl" / "inner.mp4").write_text("user data in a .dl folder")
    clips = base / "proj" / "clips"
    clips.mkdir(parents=True)
    (clips / "01-a.mp4").write_text("a clip")
    (clips / ".01-a.123.part.mp4").write_text("a clip's partial")
    return [outside, clips]


def test_partials_behind_a_linked_temp_processing_are_not_touched(tmp_path, monkeypatch):
    roots = _outside_world(tmp_path)
    monkeypatch.chdir(tmp_path / "proj")
    os.symlink(tmp_path / "outside", "temp_processing")
    before = _snapshot(*roots)
    warnings: list[str] = []
    assert remove_partials(Path("temp_processing"), warn=warnings.append) == 0
    st = RunState(input_source="/in.mp4", config_hash="h",
                  temp_files={"temp_processing/keep.mp4": {"sha256": "0" * 64, "size": 1, "task": "download"}})
    delete_temp_files(st, warn=warnings.append)
    assert _snapshot(*roots) == before
    assert len([w for w in warnings if "is a link" in w]) == 2  # once per sweep, no per-file noise
    assert not any(w.startswith("clipforge:") for w in warnings)  # the printer adds the prefix


def test_links_inside_temp_processing_are_removed_never_followed(tmp_path, monkeypatch):
    roots = _outside_world(tmp_path)
    monkeypatch.chdir(tmp_path / "proj")
    tmp = Path("temp_processing")
    (tmp / "transcribe").mkdir(parents=True)
    (tmp / "transcribe" / ".chunk000.9.part.json").write_text("{")
    (tmp / "transcribe" / "chunk001.json").write_text("{}")
    (tmp / "source.media.dl").mkdir()
    os.symlink(tmp_path / "outside", tmp / "linked")  # rglob/walk must not descend here
    os.symlink(tmp_path / "outside" / "x.dl", tmp / "other.dl")
    os.symlink(tmp_path / "outside" / "movie.part.mp4", tmp / "link.part.mp4")
    before = _snapshot(*roots)
    remove_partials(tmp)
    assert _snapshot(*roots) == before
    assert sorted(p.name for p in tmp.iterdir()) == ["linked", "transcribe"]
    assert [p.name for p in (tmp / "transcribe").iterdir()] == ["chunk001.json"]

    st = RunState(input_source="/in.mp4", config_hash="h", temp_files={
        f"temp_processing/{rel}": {"sha256": "0" * 64, "size": 1, "task": "t"}
        for rel in ("linked/keep.mp4", "../outside/keep.mp4", "transcribe/chunk001.json")})
    delete_temp_files(st, warn=lambda m: None)
    assert _snapshot(*roots) == before
    assert list(tmp.iterdir()) == []


# -- property test ---------------------------------------------------------------------------

NAMES = st.sampled_from(["a.json", "b.part.mp4", ".c.12.part.json", "d.dl", "e", "f.mp4.part", ".lock"])
KINDS = st.sampled_from(["file", "dir", "link_out_file", "link_out_dir", "link_clips", "link_inside", "dangling"])
ENTRY = st.tuples(st.lists(st.sampled_from(["x", "y.dl", "z"]), max_size=2), NAMES, KINDS)
STATE_PATHS = st.sampled_from([
    "temp_processing/a.json", "temp_processing/x/a.json", "temp_processing/x/y.dl/e", "temp_processing/b.part.mp4",
    "temp_processing/../outside/keep.mp4", "temp_processing/x/../../clips/01-a.mp4", "../outside/keep.mp4",
    "outside/keep.mp4", "clips/01-a.mp4", "temp_processing", "temp_processing/", "temp_processing/.",
    "temp_processing/d.dl/keep.mp4", "temp_processing/x/d.dl/inner.mp4", "temp_processing/z/keep.mp4",
])


def _build(entries, temp_is_link: bool) -> None:
    base = Path.cwd().parent
    if temp_is_link:
        os.symlink(base / "outside", "temp_processing")
        return
    Path("temp_processing").mkdir()
    for folders, name, kind in entries:
        parent = Path("temp_processing", *folders)
        if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
            continue
        parent.mkdir(parents=True, exist_ok=True)
        path = parent / name
        if path.exists() or path.is_symlink():
            continue
        if kind == "file":
            path.write_text("temp")
        elif kind == "dir":
            path.mkdir()
            (path / "inner.mp4").write_text("temp")
        elif kind == "link_out_file":
            os.symlink(base / "outside" / "keep.mp4", path)
        elif kind == "link_out_dir":
            os.symlink(base / "outside", path)
        elif kind == "link_clips":
            os.symlink(base / "proj" / "clips", path)
        elif kind == "link_inside":
            os.symlink(Path.cwd() / "temp_processing", path)
        else:
            os.symlink(base / "nowhere", path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(ENTRY, max_size=12), state_paths=st.lists(STATE_PATHS, max_size=8),
       absolute=st.booleans(), temp_is_link=st.booleans())
def test_property_nothing_outside_temp_processing_or_in_clips_is_ever_removed(
        monkeypatch, entries, state_paths, absolute, temp_is_link):
    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        roots = _outside_world(base)
        monkeypatch.chdir(base / "proj")
        _build(entries, temp_is_link)
        paths = list(state_paths)
        if absolute:
            paths += [str(base / "outside" / "keep.mp4"), str(base / "proj" / "clips" / "01-a.mp4"),
                      str(Path(os.path.realpath(base / "outside")) / "keep.mp4")]
        before = _snapshot(*roots)
        remove_partials(Path("temp_processing"))
        state = RunState(input_source="/in.mp4", config_hash="h",
                         temp_files={p: {"sha256": "0" * 64, "size": 1, "task": "t"} for p in paths})
        delete_temp_files(state, warn=lambda m: None)
        assert _snapshot(*roots) == before
        # Resolved or not: the real folders behind the outside world are the same ones and still intact.
        assert (Path(os.path.realpath(base / "outside")) / "keep.mp4").read_text() == "user data"
        if not temp_is_link:
            left = [p for p in Path("temp_processing").rglob("*")
                    if p.relative_to("temp_processing").parts[0] != ".lock"]
            assert left == [], left  # and everything of ours did go
        monkeypatch.chdir(base)


@pytest.mark.parametrize("rel", ["temp_processing/../x", "/etc/passwd", "temp_processing", "clips/a.mp4"])
def test_safe_to_delete_refuses_anything_not_strictly_inside(tmp_path, monkeypatch, rel):
    from clipforge.state.cleanup import safe_to_delete

    monkeypatch.chdir(tmp_path)
    Path("temp_processing").mkdir()
    assert not safe_to_delete(rel)


def test_atomic_path_temporaries_are_recognised_by_the_start_up_sweep(tmp_path, monkeypatch):
    from clipforge.fsutil import atomic_path, partial_stem
    from clipforge.session import ROOT_PARTIAL_STEMS

    monkeypatch.chdir(tmp_path)
    names = []
    for target in (".temp_clips.json", ".temp_clips.json.bak", ".doit-db.json"):
        with atomic_path(target, ".json") as tmp:
            tmp.write_text("{}")
            names.append(tmp.name)
    assert all((partial_stem(n) or "").startswith(ROOT_PARTIAL_STEMS) for n in names), names
    assert partial_stem("notes.part.txt") is None and partial_stem(".my.part.json") is None
