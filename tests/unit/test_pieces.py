"""The piece log and the pure helpers of piecewise decoding (no model, no subprocess)."""

from __future__ import annotations

import pytest

from clipforge.config import load_options
from clipforge.errors import OptionError
from clipforge.stages import decode
from clipforge.stages.audio import RATE
from clipforge.stages.pieces import PieceLog

SPEECH = [{"start": 0, "end": 10}]


def _log(tmp_path, key="k") -> PieceLog:
    return PieceLog.open(tmp_path / "chunk000.pieces", key)


def test_pieces_survive_a_reopen(tmp_path):
    log = _log(tmp_path)
    assert log.header is None
    log.start(SPEECH)
    log.append({"windows": [0], "segments": []})
    log.append({"windows": [1], "segments": [{"text": "ünïcode"}]})
    again = _log(tmp_path)
    assert again.header["speech"] == SPEECH
    assert again.pieces == log.pieces and again.dropped == 0


def test_a_torn_last_line_is_dropped_and_the_log_stays_appendable(tmp_path):
    log = _log(tmp_path)
    log.start(SPEECH)
    for w in range(3):
        log.append({"windows": [w], "segments": []})
    path = tmp_path / "chunk000.pieces"
    path.write_bytes(path.read_bytes()[:-7])  # a kill inside the last write
    again = _log(tmp_path)
    assert [p["windows"] for p in again.pieces] == [[0], [1]] and again.dropped == 1
    again.append({"windows": [2], "segments": []})
    assert [p["windows"] for p in _log(tmp_path).pieces] == [[0], [1], [2]]


def test_a_flipped_byte_in_a_middle_line_drops_only_that_piece(tmp_path):
    log = _log(tmp_path)
    log.start(SPEECH)
    for w in range(3):
        log.append({"windows": [w], "segments": [{"text": f"piece {w}"}]})
    path = tmp_path / "chunk000.pieces"
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace("piece 1", "piece 7")  # valid JSON, wrong checksum
    path.write_text("".join(lines))
    assert [p["windows"] for p in _log(tmp_path).pieces] == [[0], [2]]


@pytest.mark.parametrize("damage", ["other key", "torn header", "empty"])
def test_a_log_for_other_options_or_a_damaged_header_starts_over(tmp_path, damage):
    log = _log(tmp_path)
    log.start(SPEECH)
    log.append({"windows": [0], "segments": []})
    path = tmp_path / "chunk000.pieces"
    if damage == "torn header":
        path.write_text(path.read_text()[5:])
    elif damage == "empty":
        path.write_text("")
    again = _log(tmp_path, key="other" if damage == "other key" else "k")
    assert again.header is None and again.pieces == [] and not path.exists()


def test_windows_pack_consecutive_speech_up_to_30_seconds():
    s = [{"start": i * 20 * RATE, "end": (i * 20 + 12) * RATE} for i in range(5)]  # 12 s of speech each
    assert decode.windows_of(s) == [[0, 1], [2, 3], [4]]
    assert decode.windows_of([]) == []


def test_a_resumed_chunk_batches_its_windows_as_the_uninterrupted_run_did():
    assert decode._groups(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert decode._groups([3, 4, 5, 6], 3) == [[3, 4, 5], [6]]  # killed after the first batch
    assert decode._groups([3, 4, 5, 9], 3) == [[3, 4, 5], [9]]  # a damaged middle piece and the tail


def _seg(n, at, end, tokens, temperature=0.0):
    return {"n": n, "at": at, "end": end, "tokens": tokens, "temperature": temperature}


def test_a_missing_sequential_segment_is_a_gap_between_its_neighbours():
    pieces = [_seg([0], 0.0, 2.0, [1]), _seg([2], 4.5, 6.0, [3]), _seg([3], 6.0, 8.0, [4])]
    assert decode._first_gap(pieces) == ([1], 2.0, 4.5)
    assert decode._first_gap([_seg([1], 3.0, 4.0, [2])]) == ([0], 0.0, 3.0)
    assert decode._first_gap(pieces[:1]) is None


def test_the_prompt_is_the_previous_tokens_reset_after_a_hot_window():
    pieces = [_seg([0], 0, 1, [1, 2]), _seg([1], 1, 2, [3], temperature=0.8), _seg([2], 2, 3, [4, 5])]
    assert decode._prompt(pieces, 1) == [1, 2]
    assert decode._prompt(pieces, 2) == []
    assert decode._prompt(pieces, 3) == [4, 5]
    long = [_seg([i], i, i + 1, list(range(100))) for i in range(10)]
    assert len(decode._prompt(long, 10)) == decode.PROMPT_TOKENS


def test_batch_size_is_the_override_or_follows_the_cores(monkeypatch):
    assert decode.batch_size(3, "cpu") == 3
    monkeypatch.setattr(decode.os, "cpu_count", lambda: 2)
    assert decode.batch_size(0, "cpu") == 4
    monkeypatch.setattr(decode.os, "cpu_count", lambda: 16)
    assert decode.batch_size(0, "cpu") == 8
    monkeypatch.setattr(decode, "_cuda_free_gib", lambda: 20.5)
    assert decode.batch_size(0, "cuda") == 20
    monkeypatch.setattr(decode, "_cuda_free_gib", lambda: None)
    assert decode.batch_size(0, "cuda") == 8


def test_whisper_options_are_checked(tmp_path):
    opts = load_options({"whisper_mode": "sequential", "whisper_batch": "2"}, pyproject=str(tmp_path / "none"))
    assert (opts.whisper_mode, opts.whisper_batch) == ("sequential", 2)
    assert load_options({}, pyproject=str(tmp_path / "none")).whisper_mode == "batched"
    with pytest.raises(OptionError):
        load_options({"whisper_mode": "fast"}, pyproject=str(tmp_path / "none"))
    with pytest.raises(OptionError):
        load_options({"whisper_batch": "-1"}, pyproject=str(tmp_path / "none"))
