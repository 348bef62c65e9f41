"""Chunked transcription with the real bundled model on committed speech."""

from __future__ import annotations

import pytest

from clipforge.fsutil import read_json, write_json
from clipforge.stages import audio, transcribe
from tests.helpers import MEDIA, wer, words_of

MODEL = transcribe.ModelOptions()


def transcribe_all(tmp_path, source, chunk_minutes: float, tag: str) -> tuple[dict, list[dict]]:
    wav, plan, out = tmp_path / f"{tag}.wav", tmp_path / f"{tag}-chunks.json", tmp_path / f"{tag}.json"
    audio.extract_wav(str(source), str(wav))
    transcribe.plan_chunks(str(wav), str(plan), chunk_minutes)
    files = []
    for chunk in transcribe.load_chunks(str(plan)):
        f = tmp_path / f"{tag}-{chunk.id}.json"
        transcribe.transcribe_chunk(str(wav), chunk, str(f), opts=MODEL)
        files.append(str(f))
    transcribe.merge(str(plan), files, str(out), model_name="bundled")
    return read_json(out), read_json(plan)["chunks"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tx")
    source = MEDIA / "speech_long.mp3"
    whole, whole_chunks = transcribe_all(tmp, source, 10, "whole")
    chunked, chunks = transcribe_all(tmp, source, 0.25, "chunked")
    return whole, whole_chunks, chunked, chunks


def test_transcript_has_the_documented_shape(runs):
    whole, chunks, _, _ = runs
    assert len(chunks) == 1
    assert whole["language"] == "en"
    assert 45 < whole["duration"] < 56
    assert whole["model"] == "bundled"
    words = [w for s in whole["segments"] for w in s["words"]]
    assert len(words) > 60
    for w in words:
        assert set(w) == {"text", "start", "end", "probability"}
        assert 0 <= w["start"] <= w["end"] <= whole["duration"] + 0.1
        assert 0 <= w["probability"] <= 1
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)


def test_the_words_are_the_speech(runs):
    whole, _, _, _ = runs
    ref = words_of((MEDIA / "speech_long.txt").read_text())
    hyp = words_of(" ".join(s["text"] for s in whole["segments"]))
    assert wer(ref, hyp) < 0.15


def test_chunks_are_cut_in_silence_so_no_word_is_split(runs):
    whole, _, _, chunks = runs
    assert len(chunks) >= 3, chunks
    cuts = [c["start"] for c in chunks[1:]]
    words = [w for s in whole["segments"] for w in s["words"]]
    for cut in cuts:
        inside = [w["text"] for w in words if w["start"] + 0.05 < cut < w["end"] - 0.05]
        assert not inside, f"cut at {cut:.2f}s splits {inside}"
    assert chunks[0]["start"] == 0 and chunks[-1]["end"] == pytest.approx(whole["duration"], abs=0.01)
    for a, b in zip(chunks, chunks[1:]):
        assert a["end"] == b["start"]


def test_chunked_transcript_matches_the_unchunked_one(runs):
    whole, _, chunked, _ = runs
    a = words_of(" ".join(s["text"] for s in whole["segments"]))
    b = words_of(" ".join(s["text"] for s in chunked["segments"]))
    error = wer(a, b)
    print(f"\nWER chunked (15 s chunks) vs unchunked: {error:.3f} over {len(a)} words")
    # 15 s chunks give the tiny model little context (measured: 0.089); the default 10-minute
    # chunks differ from an unchunked run only at a handful of cut points.
    assert error < 0.12
    times = [w["start"] for s in chunked["segments"] for w in s["words"]]
    assert times == sorted(times), "global times must increase across chunks"


def test_merge_neither_loses_nor_duplicates_words_at_chunk_edges(tmp_path):
    """Whisper may report a word slightly past its chunk's end: it belongs to one chunk only."""
    plan = tmp_path / "chunks.json"
    write_json(plan, {"duration": 20.0, "chunks": [{"id": "chunk000", "start": 0, "end": 10},
                                                   {"id": "chunk001", "start": 10, "end": 20}]})

    def seg(words):
        return {"start": words[0][1], "end": words[-1][2], "text": " ".join(w[0] for w in words),
                "words": [{"text": t, "start": a, "end": b, "probability": 0.9} for t, a, b in words]}

    write_json(tmp_path / "c0.json", {"chunk": {"id": "chunk000", "start": 0, "end": 10}, "language": "en",
                                      "segments": [seg([("one", 8.0, 8.5), ("edge", 9.8, 10.1)])]})
    write_json(tmp_path / "c1.json", {"chunk": {"id": "chunk001", "start": 10, "end": 20}, "language": "en",
                                      "segments": [seg([("edge", 9.9, 10.1)]), seg([("two", 11.0, 11.4)])]})
    transcribe.merge(str(plan), [str(tmp_path / "c0.json"), str(tmp_path / "c1.json")],
                     str(tmp_path / "t.json"), model_name="bundled")
    words = [w["text"] for s in read_json(tmp_path / "t.json")["segments"] for w in s["words"]]
    assert words == ["one", "edge", "two"]


def test_a_missing_model_is_a_clear_model_load_error(project):
    result = project.doit("whisper_model=/nonexistent/model", "clips=1")
    out = result.stdout + result.stderr
    assert result.returncode == 20, out
    assert "MODEL_LOAD_FAILED" in out and "Traceback" not in out


SEQUENTIAL = transcribe.ModelOptions(whisper_mode="sequential")


@pytest.fixture(scope="module")
def sequential(tmp_path_factory, runs):
    """speech_long.mp3 in one chunk, decoded segment by segment (the pieces of sequential mode)."""
    tmp = tmp_path_factory.mktemp("seq")
    wav, plan, out = tmp / "s.wav", tmp / "chunks.json", tmp / "chunk000.json"
    audio.extract_wav(str(MEDIA / "speech_long.mp3"), str(wav))
    transcribe.plan_chunks(str(wav), str(plan), 10)
    chunk = transcribe.load_chunks(str(plan))[0]
    transcribe.transcribe_chunk(str(wav), chunk, str(out), opts=SEQUENTIAL)
    return wav, chunk, out


def _text(segments) -> list[str]:
    return words_of(" ".join(s["text"] for s in segments))


def test_batched_and_sequential_transcripts_agree(runs, sequential):
    whole, _, _, _ = runs  # the default mode: batched
    seq = read_json(sequential[2])
    error = wer(_text(seq["segments"]), _text(whole["segments"]))
    print(f"\nWER batched vs sequential: {error:.3f}")
    assert error < 0.12
    for data in (whole, seq):
        words = [w for s in data["segments"] for w in s["words"]]
        assert len(words) > 60
        assert all(0 <= w["start"] <= w["end"] <= 50.4 for w in words)
        starts = [w["start"] for w in words]
        assert starts == sorted(starts)


def _damage(log, line: int, how: str) -> bytes:
    lines = log.read_bytes().splitlines(keepends=True)
    kept = lines[line]
    lines[line] = kept[: len(kept) // 2] if how == "truncate" else kept.replace(b'"', b"'", 1)
    log.write_bytes(b"".join(lines if how != "truncate" else lines[: line + 1]))
    return kept


@pytest.mark.parametrize("mode", ["batched", "sequential"])
@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_a_damaged_piece_line_is_redone_alone(tmp_path, sequential, capsys, mode, how):
    """A line failing its checksum (flipped in the middle, or torn at the end) is decoded again; no other."""
    wav, chunk, seq_out = sequential
    opts = SEQUENTIAL if mode == "sequential" else transcribe.ModelOptions(whisper_batch=1)
    out = tmp_path / "chunk000.json"
    if mode == "sequential":
        out.write_bytes(seq_out.read_bytes())
        transcribe.pieces_file(str(out)).write_bytes(transcribe.pieces_file(str(seq_out)).read_bytes())
    else:
        transcribe.transcribe_chunk(str(wav), chunk, str(out), opts=opts)
    log = transcribe.pieces_file(str(out))
    full, total = read_json(out), log.read_text().count("\n") - 1
    line = total if how == "truncate" else 2  # 1-based piece lines after the header
    _damage(log, line, how)
    capsys.readouterr()
    transcribe.transcribe_chunk(str(wav), chunk, str(out), opts=opts)
    printed = capsys.readouterr()
    assert f"decoded 1 piece(s), kept {total - 1}" in printed.out, printed
    assert "failed the checksum" in printed.err
    again = read_json(out)
    if mode == "batched":
        assert again == full  # windows are decoded independently of each other
    else:  # a segment redone alone is decoded from its own start, not its window's: near
        assert wer(_text(full["segments"]), _text(again["segments"])) < 0.12
