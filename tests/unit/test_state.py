"""The state module on its own: atomic writes, schema-checked loads, recovery, safe deletion."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from clipforge.errors import ErrorCode, StateError
from clipforge.fsutil import atomic_path, write_json
from clipforge.state import (
    Checkpoint,
    create_state_file,
    delete_state_file,
    delete_temp_files,
    load_state_file,
    update_state_file,
)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "temp_processing").mkdir()
    return tmp_path


def make_state(path=Path(".temp_clips.json")):
    return create_state_file("/videos/talk.mp4", "abc123", path)


def test_create_load_update_delete_roundtrip():
    st = make_state()
    assert load_state_file().input_source == "/videos/talk.mp4"
    queue = {"extract": [{"id": "seg001", "start": 1.5, "end": 20.0}, {"id": "seg002", "start": 30.0, "end": 52.5}]}
    update_state_file(st, current_stage="segment", segment_queue=queue)
    again = load_state_file()
    assert again.current_stage == "segment"
    assert again.segment_queue == queue
    assert again.version == 2
    delete_state_file()
    assert load_state_file() is None
    assert not Path(".temp_clips.json.bak").exists()


def test_atomic_write_keeps_old_content_when_the_writer_dies_midway():
    write_json("temp_processing/x.json", {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path("temp_processing/x.json") as tmp:
            tmp.write_text('{"v": 2, "trunc')
            raise RuntimeError("killed")
    assert json.loads(Path("temp_processing/x.json").read_text()) == {"v": 1}
    assert [p.name for p in Path("temp_processing").iterdir()] == ["x.json"]


@pytest.mark.parametrize("content, why", [
    ("garbage \x00\x01 not json", "not valid JSON"),
    ('{"version": 1, "input_source": "/a", "config', "not valid JSON"),
    ("[]", "no version"),
    ('{"version": 1}', "schema"),
])
def test_damaged_state_without_backup_is_refused_with_state_corrupt(content, why):
    Path(".temp_clips.json").write_text(content)
    with pytest.raises(StateError) as err:
        load_state_file()
    assert err.value.code is ErrorCode.STATE_CORRUPT
    assert why in err.value.message


def test_truncated_state_is_recovered_from_the_last_good_copy():
    st = make_state()
    update_state_file(st, current_stage="transcript")
    text = Path(".temp_clips.json").read_text()
    Path(".temp_clips.json").write_text(text[: len(text) // 2])
    notes = []
    recovered = load_state_file(warn=notes.append)
    assert recovered.current_stage == "transcript"
    assert notes and "restored the last good copy" in notes[0]
    assert Path(".temp_clips.json.corrupt").exists()
    assert load_state_file().current_stage == "transcript"  # the restored copy is now the state file


@pytest.mark.parametrize("version, word", [(0, "older"), (99, "newer"), ("1", "no version")])
def test_other_versions_are_refused_clearly(version, word):
    data = make_state().to_dict()
    delete_state_file()
    data["version"] = version
    Path(".temp_clips.json").write_text(json.dumps(data))
    with pytest.raises(StateError, match=word):
        load_state_file()


@pytest.mark.parametrize("hostile", [
    "temp_processing/../../etc/passwd",
    "/etc/passwd",
    "../outside.mp4",
    "temp_processing/a/../../../x",
    "clips/01-a.mp4",
])
def test_hostile_temp_file_paths_fail_validation(hostile):
    data = make_state().to_dict()
    delete_state_file()
    data["temp_files"][hostile] = {"sha256": "0" * 64, "size": 1, "task": "download"}
    Path(".temp_clips.json").write_text(json.dumps(data))
    with pytest.raises(StateError, match="schema"):
        load_state_file()


def test_deletion_never_follows_a_link_out_of_temp_processing(tmp_path):
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.mp4").write_text("user data")
    Path("temp_processing/extract").mkdir()
    Path("temp_processing/extract/seg001.mp4").write_text("clip")
    os.symlink(outside, "temp_processing/link_dir")
    os.symlink(outside / "keep.mp4", "temp_processing/extract/link.mp4")
    Path("temp_processing/.lock").write_text("")
    st = make_state()
    st.temp_files["temp_processing/link_dir/keep.mp4"] = {"sha256": "0" * 64, "size": 1, "task": "x"}
    warnings = []
    delete_temp_files(st, warn=warnings.append)
    assert (outside / "keep.mp4").read_text() == "user data"
    assert sorted(p.name for p in Path("temp_processing").iterdir()) == [".lock"]
    assert any("outside temp_processing" in w for w in warnings)


def test_deletion_refuses_a_temp_processing_that_is_itself_a_link(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "file").write_text("x")
    os.rmdir("temp_processing")
    os.symlink(outside, "temp_processing")
    warnings = []
    delete_temp_files(None, warn=warnings.append)
    assert (outside / "file").exists()
    assert warnings


def test_checkpoint_detects_missing_and_corrupted_targets():
    cp = Checkpoint()
    cp.ensure("/videos/talk.mp4", "cfg")
    target = "temp_processing/transcript.json"
    write_json(target, {"segments": []})
    cp.record_task("transcript", "h1", targets=[target], inputs=[])
    cp.save()
    fresh = Checkpoint()
    assert fresh.is_current("transcript", "h1", targets=[target], inputs=[])
    assert not fresh.is_current("transcript", "other-options", targets=[target], inputs=[])
    Path(target).write_text('{"segments": [1]}')  # same task, edited output
    assert not Checkpoint().is_current("transcript", "h1", targets=[target], inputs=[])
    Path(target).unlink()
    assert not Checkpoint().is_current("transcript", "h1", targets=[target], inputs=[])


def test_checkpoint_reruns_a_task_whose_input_changed():
    cp = Checkpoint()
    cp.ensure("/videos/talk.mp4", "cfg")
    write_json("temp_processing/transcript.json", {"a": 1})
    write_json("temp_processing/segments.json", {"clips": []})
    out, inp = ["temp_processing/segments.json"], ["temp_processing/transcript.json"]
    cp.record_task("segment", "h", targets=out, inputs=inp)
    cp.save()
    assert Checkpoint().is_current("segment", "h", targets=out, inputs=inp)
    write_json("temp_processing/transcript.json", {"a": 2})
    assert not Checkpoint().is_current("segment", "h", targets=out, inputs=inp)


def test_units_move_from_queue_to_completed_and_are_saved_at_once():
    cp = Checkpoint()
    cp.ensure("/videos/talk.mp4", "cfg")
    units = [{"id": f"seg00{i}", "start": 10.0 * i, "end": 10.0 * i + 8} for i in (1, 2, 3)]
    cp.set_queue("extract", units)
    cp.finish_unit("extract", "seg002")
    cp.save()
    st = load_state_file()
    assert [u["id"] for u in st.segment_queue["extract"]] == ["seg001", "seg003"]
    # The state file alone says which spans are done and which are queued.
    assert st.completed_segments["extract"] == [{"id": "seg002", "start": 20.0, "end": 28.0}]
    cp.set_queue("extract", units)  # re-planned with the same clips: done stays done
    assert [u["id"] for u in cp.state.segment_queue["extract"]] == ["seg001", "seg003"]
    cp.forget_units("extract", ["seg002"])  # `doit forget extract:seg002`
    assert [u["id"] for u in cp.state.segment_queue["extract"]] == ["seg001", "seg002", "seg003"]
    assert cp.state.completed_segments["extract"] == []


def test_version_1_state_is_migrated_to_unit_spans():
    st = make_state()
    data = st.to_dict()
    data.update(version=1, completed_segments={"transcribe": ["chunk000"]}, segment_queue={"transcribe": ["chunk001"]})
    write_json(".temp_clips.json", data)
    again = load_state_file()
    assert again.version == 2
    assert again.completed_segments == {"transcribe": [{"id": "chunk000", "start": None, "end": None}]}


def test_error_log_holds_no_secrets_and_stays_bounded(monkeypatch):
    from clipforge.redact import scrub

    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-key")
    cp = Checkpoint()
    cp.ensure("https://example.com/v.mp4?v=1&token=REDACTED", "cfg")
    url = "https://bob:hunter2@example.com/v.mp4?token=tok123"
    for _ in range(80):
        message = scrub(f"404 for {url} with sk-very-secret-key", url)
        cp.record_failure("download", None, code="DOWNLOAD_FAILED", message=message)
    text = Path(".temp_clips.json").read_text()
    assert "hunter2" not in text and "tok123" not in text and "sk-very-secret-key" not in text
    assert len(json.loads(text)["error_log"]) == 50
