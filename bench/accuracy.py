"""accuracy: what each Whisper model and mode gets right, and what it costs, on real and natural speech.

Speech: tests/media/real_speech.opus (real recordings: LibriVox readers and JFK, with hand-labelled
speech edges) and tests/media/natural_talk.opus (a 3-minute talk in a neural Piper voice, with
per-sentence edges from the voice's phoneme alignment). For each model (tiny.en; base when its
extra is installed) and mode (batched, sequential) the transcribe stage runs in its own process,
as does bare sequential faster-whisper with the same model, so CPU time and peak memory are each
side's own. Measured:

- word error rate against the text read, ours minus bare sequential (goal: at most +1 point);
- dropped utterances: a sentence of the truth with no word of ours inside its span (goal: 0);
- median absolute error of sentence starts and ends against the truth (goal: at most 0.06 s);
- clip cuts inside a word: a cut at each sentence boundary (padding 0.2 s, at most half the
  pause), judged on the natural talk by the voice's own word spans (its phoneme alignment), on the
  real recordings by an independent decode (the other model, beam 1) whose word edges are moved
  onto the audio the same way (raw Whisper edges are themselves 0.1-0.2 s off) (goal: 0);
- CPU seconds per audio minute and peak memory (MB).
"""

from __future__ import annotations

import json
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.core import ROOT, Row, add, say

MEDIA = ROOT / "tests" / "media"
SETS = {"real": MEDIA / "real_speech.opus", "natural": MEDIA / "natural_talk.opus"}
PAD = 0.2  # the padding option's default: a cut sits this far outside the sentence's words
INSIDE_TOL = 0.05  # seconds: an independent decode's word must contain a cut by more than this
SIDES = ("batched", "sequential", "bare")
ABBREVIATIONS = {"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "e.g.", "i.e."}  # a period that ends no sentence
JUDGE_MAX_WORD = 1.2  # seconds: a longer word in the independent decode is its own timing failure, not a word


def truth(name: str) -> tuple[str, list[tuple[float, float]], list[tuple[float, float]]]:
    """(reference text, sentence spans with exact edges, utterance spans that must hold words)."""
    data = json.loads(SETS[name].with_suffix(".json").read_text())
    if name == "real":
        rows = data["utterances"]
        edges = [tuple(u["speech"]) for u in rows if u["speech"]]
        return " ".join(u["text"] for u in rows), edges, [(u["at"], u["at"] + u["duration"]) for u in rows]
    rows = data["sentences"]
    spans = [(s["start"], s["end"]) for s in rows]
    return " ".join(s["text"] for s in rows), spans, spans


def norm_words(text: str) -> list[str]:
    text = re.sub(r"\bmr\b\.?", "mister", text.lower())
    return re.findall(r"[a-z0-9']+", text.replace("-", " "))


def wer(ref: list[str], hyp: list[str]) -> float:
    """Word error rate in percent: the tests' own measure."""
    from tests.helpers import wer as ratio

    return 100 * ratio(ref, hyp)


# ------------------------------------------------------------------ one side, in its own process

def _worker(args: dict) -> dict:
    from faster_whisper import WhisperModel, decode_audio

    from clipforge.stages import transcribe
    from clipforge.stages.audio import extract_wav, wav_duration
    from clipforge.whisper_models import model_path

    began = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    if args["side"] == "bare":
        model = WhisperModel(model_path(args["model"]), device="cpu", compute_type="int8")
        audio = decode_audio(args["media"])
        segs, _ = model.transcribe(audio, language="en", word_timestamps=True, vad_filter=True,
                                   beam_size=args.get("beam", 5))
        words = [{"text": w.word.strip(), "start": w.start, "end": w.end} for s in segs for w in s.words or []]
        seconds = len(audio) / 16000
    else:
        work = Path(args["work"])
        wav = work / "a.wav"
        extract_wav(args["media"], str(wav))
        seconds = wav_duration(str(wav))
        opts = transcribe.ModelOptions(whisper_model=args["model"], whisper_mode=args["side"])
        out = work / f"{args['side']}.json"
        transcribe.transcribe_chunk(str(wav), transcribe.Chunk("chunk000", 0.0, seconds), str(out), opts=opts)
        words = [w for s in json.loads(out.read_text())["segments"] for w in s["words"]]
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = used.ru_utime + used.ru_stime - began.ru_utime - began.ru_stime
    return {"words": words, "cpu": cpu, "wall": time.perf_counter() - t, "audio": seconds,
            "peak_mb": used.ru_maxrss / 1024}


def side(media: Path, *, model: str, kind: str, work: Path, beam: int = 5) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    args = {"media": str(media), "model": model, "side": kind, "work": str(work), "beam": beam}
    out = subprocess.run([sys.executable, "-m", "bench.accuracy", json.dumps(args)], cwd=ROOT,
                         capture_output=True, text=True, timeout=1800)
    if out.returncode:
        raise RuntimeError(out.stderr[-800:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ measures

def dropped(words: list[dict], spans: list[tuple[float, float]]) -> int:
    return len(dropped_spans(words, spans))


def dropped_spans(words: list[dict], spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(a, b) for a, b in spans if not any(a <= (w["start"] + w["end"]) / 2 <= b for w in words)]


def edge_errors(words: list[dict], spans: list[tuple[float, float]]) -> list[float]:
    """|first word start - truth start| and |last word end - truth end| for each sentence that has words."""
    errs = []
    for a, b in spans:
        mine = [w for w in words if a - 0.15 <= (w["start"] + w["end"]) / 2 <= b + 0.15]
        if mine:
            errs += [abs(mine[0]["start"] - a), abs(mine[-1]["end"] - b)]
    return errs


def cuts(words: list[dict]) -> list[float]:
    """Where a planner cuts around each sentence: PAD outside its words, at most half the pause."""
    out = []
    for w, nxt in zip(words, words[1:]):
        if w["text"].rstrip().endswith((".", "?", "!")) and w["text"].strip().lower() not in ABBREVIATIONS:
            half = max(nxt["start"] - w["end"], 0) / 2
            out += [w["end"] + min(PAD, half), nxt["start"] - min(PAD, half)]
    return out


def inside(cut_times: list[float], judge: list[dict]) -> int:
    judge = [w for w in judge if w["end"] - w["start"] <= JUDGE_MAX_WORD]
    return sum(any(w["start"] + INSIDE_TOL < t < w["end"] - INSIDE_TOL for w in judge) for t in cut_times)


def judge_words(name: str, media: Path, *, model: str, work: Path) -> tuple[list[dict], str]:
    if name == "natural":
        return json.loads(media.with_suffix(".json").read_text())["words"], "the voice's alignment"
    from faster_whisper import decode_audio

    from clipforge.stages.wordtimes import refine

    words = side(media, model=model, kind="bare", work=work, beam=1)["words"]
    refined = refine(words, decode_audio(str(media)), rate=16000, offset=0.0)
    return refined, f"{model} beam 1, edges on the audio"


def run(tmp: Path) -> None:
    from clipforge.whisper_models import base_installed

    models = ["tiny.en"] + (["base"] if base_installed() else [])
    say(f"[accuracy] models {', '.join(models)}; modes batched, sequential; bare sequential faster-whisper")
    for name, media in SETS.items():
        if not media.with_suffix(".json").exists():
            continue
        ref, edges, spans = truth(name)
        ref_words = norm_words(ref)
        for model in models:
            got = {k: side(media, model=model, kind=k, work=tmp / f"acc-{name}-{model}") for k in SIDES}
            judge_model = "base" if model == "tiny.en" and "base" in models else model
            judge, judged_by = judge_words(name, media, model=judge_model, work=tmp / "judge")
            bare_wer = wer(ref_words, norm_words(" ".join(w["text"] for w in got["bare"]["words"])))
            for mode in ("batched", "sequential", "bare"):
                g = got[mode]
                err = edge_errors(g["words"], edges)
                this_wer = wer(ref_words, norm_words(" ".join(w["text"] for w in g["words"])))
                label = f"{model} {mode if mode != 'bare' else 'bare sequential'}"
                figures = {"wer": round(this_wer, 2), "dropped": dropped(g["words"], spans),
                           "edge_median_s": round(statistics.median(err), 3) if err else None,
                           "cuts": len(cuts(g["words"])), "cuts_inside_words": inside(cuts(g["words"]), judge),
                           "cpu_s_per_audio_min": round(g["cpu"] / g["audio"] * 60, 2),
                           "peak_mb": round(g["peak_mb"]), "judge": judged_by}
                note = (f"dropped {figures['dropped']} {dropped_spans(g['words'], spans)}, "
                        f"edge error median {figures['edge_median_s']} s, "
                        f"{figures['cuts_inside_words']}/{figures['cuts']} cuts inside a word, "
                        f"{figures['cpu_s_per_audio_min']} CPU s per audio min, peak {figures['peak_mb']} MB")
                add(Row(name=f"{name}: WER % {label} vs bare sequential", ours=this_wer, base=bare_wer, unit="%",
                        goal=None, diff_goal=1.0 if mode != "bare" else None, note=note, extra=figures))
                if mode != "bare":
                    add(Row(name=f"{name}: {label} dropped utterances", ours=figures["dropped"], base=None,
                            unit="n", goal=None, diff_goal=None,
                            note="goal 0" + ("" if figures["dropped"] == 0 else " -- MISSED")))
                    add(Row(name=f"{name}: {label} sentence edge error (median, s) vs 0.06 s",
                            ours=figures["edge_median_s"], base=0.06, unit="s", goal=1.0))


if __name__ == "__main__":
    print(json.dumps(_worker(json.loads(sys.argv[1]))))
