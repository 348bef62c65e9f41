"""SIGKILL inside one transcription chunk, then `doit --retry`: finished pieces are kept, not decoded again.

One chunk holds the whole input (chunk_minutes=10). Batched: whisper_batch=1 makes each 30-s
VAD window a piece (speech_long twice: four). Sequential: each segment is a piece (speech_long:
eleven, from two decoder windows). Each kill waits for the piece log to hold a number of
pieces (an observable event), never for a fixed time.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess

import pytest

from clipforge.media import ffmpeg_exe
from tests.helpers import MEDIA, make_project, run_ok, wait_for, wer, words_of

WER_BOUND = 0.12  # the chunked-vs-unchunked bound of test_transcribe


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """speech_long.mp3 twice (100 s): four batched windows, about twenty sequential segments."""
    out = tmp_path_factory.mktemp("media") / "speech_twice.wav"
    src = str(MEDIA / "speech_long.mp3")
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", src, "-i", src, "-filter_complex", "concat=n=2:v=0:a=1",
                    "-ac", "1", "-ar", "16000", str(out)], check=True)
    return out


def _opts(speech, mode):
    source = speech if mode == "batched" else MEDIA / "speech_long.mp3"
    return [f"input={source}", f"whisper_mode={mode}", "whisper_batch=1", "chunk_minutes=10"]


def _log(project):
    return project.temp("transcribe/chunk000.pieces")


def _pieces(project) -> int:
    """Complete lines after the header (the stage's own record of finished pieces)."""
    try:
        return max(0, _log(project).read_text().count("\n") - 1)
    except OSError:
        return 0


def _decoded(out: str) -> tuple[int, int]:
    m = re.search(r"transcribe chunk000: decoded (\d+) piece\(s\), kept (\d+)", out)
    assert m, out
    return int(m[1]), int(m[2])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, speech):
    runs = {}
    for mode in ("batched", "sequential"):
        proj = make_project(tmp_path_factory.mktemp(f"pieces-{mode}") / "proj")
        out = run_ok(proj.doit(*_opts(speech, mode), "transcript")).stdout
        decoded, kept = _decoded(out)
        assert kept == 0 and decoded >= 4, out
        pieces = [json.loads(line.split(" ", 1)[1]) for line in _log(proj).read_text().splitlines()[1:]]
        # "Most": every piece before the last batch, or before the last decoder window (whose
        # segments are written all at once, so a kill can only land between windows).
        most = decoded - 1 if mode == "batched" else sum(p["seek"] < pieces[-1]["seek"] for p in pieces)
        runs[mode] = (proj.temp("transcript.json").read_text(), decoded, most)
    return runs


def _words(transcript: str) -> list[str]:
    return words_of(" ".join(s["text"] for s in json.loads(transcript)["segments"]))


@pytest.mark.parametrize("mode", ["batched", "sequential"])
@pytest.mark.parametrize("point", ["first piece", "most pieces"])
def test_kill_inside_a_chunk_keeps_its_finished_pieces(project, speech, uninterrupted, mode, point):
    transcript, total, most = uninterrupted[mode]
    wanted = 1 if point == "first piece" else most
    proc = project.popen(*_opts(speech, mode), "transcript")
    assert wait_for(lambda: _pieces(project) >= wanted, proc), proc.stdout.read()
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group, as a crash or the OOM killer would
    proc.wait(timeout=30)
    kept = _pieces(project)
    assert wanted <= kept < total, f"killed too late: {kept} of {total} pieces"
    before = _log(project).read_bytes()

    out = run_ok(project.doit("--retry", *_opts(speech, mode), "transcript")).stdout
    assert f"kept {kept} piece(s) from an interrupted run" in out, out
    decoded, kept_again = _decoded(out)
    assert kept_again == kept and decoded >= 1
    assert _log(project).read_bytes().startswith(before), "finished pieces were rewritten"
    resumed = project.temp("transcript.json").read_text()
    if mode == "batched":
        # VAD windows are decoded independently and batched as before: exactly the same transcript.
        assert decoded == total - kept
        assert resumed == transcript
    else:
        # Exact when the kill fell between decoder windows (as it nearly always does); a resume
        # after a segment in mid-window restarts the window there: near, within the chunking bound.
        assert resumed == transcript or wer(_words(transcript), _words(resumed)) < WER_BOUND
