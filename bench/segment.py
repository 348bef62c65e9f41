"""segment: the segment stage's time with each real model, and how often a clip holds a dull passage.

Time: the segment stage (stages.segment.run) on the sample's transcript, offline and with each real
model installed (tests/llama_server.py: llama.cpp through xllamacpp, ONE server thread), each against
the offline stage: the ratio is what naming the clips with a model costs. Server start-up is not
counted; each timed run starts from an empty ledger.

Dull picks: our two talks (tests/media/talk_*.opus) have dull passages (a mic check, screen sharing,
a sponsor read, housekeeping, subscribe requests, greetings and thanks) between their topics. Over
clip lengths and counts, the share of chosen clips that hold a dull sentence, against chance (a
random sentence-aligned run of a valid length). Goal: never. Each offline feature is switched off
in turn (OfflineOptions.off) to measure its effect: dull picks, clips spanning two topics, clips
opening on a dangling word ("So", "And", a pronoun), clips opening their topic, clips opening on a hook
(a question or a number).
"""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

from bench.core import Row, add, say

LENGTHS = [(15.0, 60.0), (8.0, 30.0), (5.0, 15.0), (10.0, 20.0)]
CLIPS = [1, 3, 5]


def _transcribe(tmp: Path, name: str, media: Path) -> str:
    """The transcript of one input, from a real `doit transcript` run (the bundled Whisper model)."""
    import subprocess
    import sys

    from bench.core import doit_env, project_folder

    folder = project_folder(tmp / f"seg-{name}")
    shutil.copy(media, folder / media.name)
    subprocess.run([sys.executable, "-m", "doit", f"input={media.name}", "transcript"], cwd=folder, env=doit_env(),
                   check=True, capture_output=True, timeout=900)
    return str(folder / "temp_processing" / "transcript.json")


def _segment(transcript: str, out: Path, *, segmenter: str, env: dict | None = None) -> float:
    import os

    from clipforge.config import DEFAULTS
    from clipforge.stages.segment import SegmentOptions, run

    opts = SegmentOptions(segmenter=segmenter, clips=DEFAULTS.clips, min_len=DEFAULTS.min_len,
                          max_len=DEFAULTS.max_len, padding=DEFAULTS.padding, llm_model="local",
                          llm_timeout=300.0, llm_retries=DEFAULTS.llm_retries, llm_choose="no")
    ledger = out.with_suffix(".jsonl")
    ledger.unlink(missing_ok=True)
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        t = time.perf_counter()
        run(transcript, str(out), str(ledger), opts=opts)
        return time.perf_counter() - t
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_times(tmp: Path, sample_transcript: str) -> None:
    from tests.llama_server import MODELS, LlamaServer, missing

    offline = min(_segment(sample_transcript, tmp / "seg-offline.json", segmenter="offline") for _ in range(3))
    add(Row(name="segment stage, offline (sample)", ours=offline, base=None, unit="s", goal=None))
    for key, model in MODELS.items():
        why = missing(key)
        if why:
            add(Row(name=f"segment stage, {model.name}", ours=None, base=None, unit="s", goal=None, skipped=why))
            continue
        with LlamaServer(tmp / f"llama-{key}.log", key) as srv:
            out = tmp / f"seg-{key}.json"
            took = _segment(sample_transcript, out, segmenter="llm", env={"OPENAI_BASE_URL": srv.url})
        seg = json.loads(out.read_text())
        titles = "; ".join(c["title"] for c in seg["clips"])
        add(Row(name=f"segment stage, {model.name} (1 server thread)", ours=took, base=offline, unit="s",
                goal=None, note=f"{seg['llm_usage']['requests']} requests, {len(seg['vetoed'])} vetoed; "
                                f"titles: {titles}",
                extra={"usage": seg["llm_usage"], "titles": [c["title"] for c in seg["clips"]],
                       "vetoed": seg["vetoed"]}))


def _sections(name: str) -> list:
    from tests.talks import script

    return script(name)


def _pick_stats(transcripts: dict[str, str], off: tuple[str, ...]) -> dict:
    """Counts over every talk x length x clip count: clips, dull ones, two-topic ones, dangling openings."""
    from clipforge.stages.segment.features import dangling, has_number, pronoun_open
    from clipforge.stages.segment.offline import OfflineOptions, propose_spans
    from clipforge.stages.transcribe import load_transcript
    from tests.talks import section_of, sentences_of

    n = dull = mixed = dangle = opens = hooks = 0
    for name, path in transcripts.items():
        tr, sections = load_transcript(path), _sections(name)
        words = tr.words()
        for lo, hi in LENGTHS:
            for clips in CLIPS:
                for s in propose_spans(tr, OfflineOptions(clips=clips, min_len=lo, max_len=hi, off=off)):
                    text = " ".join(w.text.strip() for w in words if s.start <= w.start and w.end <= s.end)
                    found = {section_of(x, sections) for x in sentences_of(text)}
                    lead = tuple(t.strip(".,?!").lower() for t in text.split()[:3])
                    n += 1
                    dull += any(sections[k].kind == "dull" for k in found)
                    mixed += len(found) > 1
                    dangle += dangling(lead) or pronoun_open(lead)
                    first = sentences_of(text)[0] if sentences_of(text) else ""
                    sec = sections[section_of(first, sections)] if first else None
                    opens += bool(sec) and section_of(first, [sec]) == 0 and _first_of(first, sec)
                    hooks += first.rstrip().endswith("?") or has_number(tuple(first.lower().split()))
    return {"clips": n, "dull": dull, "mixed": mixed, "dangling": dangle, "opens_topic": opens, "hook": hooks}


def _first_of(sentence: str, section) -> bool:
    """Whether `sentence` is the first sentence of its script section (the clip opens its topic)."""
    from tests.talks import tokens

    words = tokens(sentence)
    best = max(range(len(section.sentences)), key=lambda k: len(words & tokens(section.sentences[k])))
    return best == 0


def _chance(transcripts: dict[str, str]) -> float:
    """The share of random sentence-aligned runs of a valid length that hold a dull sentence."""
    from clipforge.stages.segment.offline import split_sentences
    from clipforge.stages.transcribe import load_transcript
    from tests.talks import section_of

    rng = random.Random(20)
    hits = total = 0
    for name, path in transcripts.items():
        sections = _sections(name)
        words = [w for w in load_transcript(path).words() if w.text.strip()]
        sents = split_sentences(words, 0.7, 30.0)
        texts = [" ".join(w.text.strip() for w in words[a:b + 1]) for a, b in sents]
        is_dull = [sections[section_of(t, sections)].kind == "dull" for t in texts]
        for lo, hi in LENGTHS:
            runs = [(i, j) for i in range(len(sents)) for j in range(i, len(sents))
                    if lo <= words[sents[j][1]].end - words[sents[i][0]].start <= hi]
            for i, j in rng.sample(runs, min(200, len(runs))):
                total += 1
                hits += any(is_dull[i:j + 1])
    return 100.0 * hits / max(total, 1)


def run_dull(transcripts: dict[str, str]) -> None:
    from clipforge.stages.segment.offline import FEATURES

    chance = _chance(transcripts)
    for off in [(), *((f,) for f in FEATURES)]:
        st = _pick_stats(transcripts, off)
        pct = 100.0 * st["dull"] / max(st["clips"], 1)
        label = "all features" if not off else f"without {off[0]}"
        add(Row(name=f"dull picks on our talks, offline, {label}", ours=pct, base=chance, unit="%",
                goal=0.0 if not off else None,
                note=f"{st['dull']} of {st['clips']} clips hold a dull passage; {st['mixed']} span two sections; "
                     f"{st['dangling']} open on a dangling word; {st['opens_topic']} open their topic; "
                     f"{st['hook']} open on a question or number",
                extra=st))


def run(tmp: Path, quick: bool = False) -> None:
    from bench.core import SAMPLE
    from tests.helpers import MEDIA
    from tests.talks import TALKS

    say("  transcribing the sample and our two talks (bundled Whisper) ...")
    sample = _transcribe(tmp, "sample", SAMPLE)
    talks = {name: _transcribe(tmp, name, MEDIA / f"{name}.opus") for name in TALKS}
    run_dull(talks)
    if not quick:
        run_times(tmp, sample)
