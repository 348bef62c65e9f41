#!/usr/bin/env python3
"""Regenerate clipforge's bundled sample video and test media fixtures.

Usage::

    python3 tools/make_media.py            # writes sample/ and tests/media/
    python3 tools/make_media.py --only sample
    python3 tools/make_media.py --only fixtures

What it writes (all paths relative to the repository root):

sample/
    talk.mp4   ~110 s "talk" of synthesized English speech in 4 topics
               (bread/yeast, blue sky, bicycle balance, conclusion) with
               ~0.45 s pauses between sentences and ~1.2 s between topics.
               320x180 ffmpeg ``testsrc`` video (colour bars + a running
               seconds counter), 12 fps, H.264 (libx264 crf 30, preset
               veryslow, yuv420p, keyframe every 2 s) + AAC mono 64 kb/s
               44.1 kHz, ``+faststart``.
    talk.txt   the exact script (one sentence per line, blank line between
               topics).

tests/media/
    speech_short.wav   ~10 s, 16 kHz mono s16 PCM, three espeak sentences
    speech_short.txt   its text
    speech_long.mp3    ~50 s audio-only speech, 11 sentences with ~1.2 s pauses
                       (MP3 mono 32 kb/s 22.05 kHz, no ID3 tag)
    speech_long.txt    its text
    noaudio.mp4        3 s 160x90 H.264 video, no audio stream
    silent.mp4         3 s 160x90 H.264 video + silent AAC track
    truncated.mp4      first 40 % of the bytes of a 4 s 160x90 H.264+AAC mp4
                       written WITHOUT faststart, so the moov atom is missing
    text.mp4           a plain text file with an .mp4 name
    empty.mp4          0 bytes
    tone_vp9.webm      4 s 160x90 VP9 video + Opus mono audio carrying one
                       espeak sentence (WEBM_SENTENCE)

All speech is espeak-ng voice ``en-us`` at 150 wpm (the setting that the
bundled faster-whisper model transcribed best; ~6 % WER on talk.mp4).

Requirements (at generation time only; the tests use the committed files):

* ``espeak-ng`` (voice ``en-us``) and ``sox`` on PATH
  (Debian: ``apt-get install espeak-ng sox``);
* the static ffmpeg shipped with the ``imageio-ffmpeg`` Python package
  (needs libx264, aac, libvpx-vp9, libopus, libmp3lame -- all present in
  imageio-ffmpeg's build), or set ``FFMPEG=/path/to/ffmpeg``;
* optionally PyAV (``av``) for the self-check at the end.

Output is deterministic for a given espeak-ng/sox/ffmpeg version (bitexact
flags, no metadata, no sox dither, single-threaded encoders), though byte-identical output across
tool versions is not guaranteed nor required.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "sample"
MEDIA_DIR = ROOT / "tests" / "media"

VOICE = "en-us"
SPEED = 150  # words per minute
SENTENCE_PAUSE = 0.45  # seconds of silence after each sentence
TOPIC_PAUSE = 1.2  # seconds of silence after the last sentence of a topic
LEAD_IN = 0.5  # seconds of silence at the very start

TALK_TOPICS: list[list[str]] = [
    [
        "Let's start with how bread rises.",
        "Bread dough contains flour, water, salt, and a tiny living fungus called yeast.",
        "The yeast eats the sugars in the flour and releases carbon dioxide gas.",
        "Stretchy gluten proteins trap that gas in millions of small bubbles.",
        "As the bubbles grow, the whole dough slowly puffs up.",
        "In the hot oven, the gas expands even more, and the crust sets around it.",
        "That is why fresh bread is so light and full of holes.",
    ],
    [
        "Now, why is the sky blue?",
        "Sunlight looks white, but it is really a mix of every color.",
        "When that light enters the air, it bumps into tiny gas molecules.",
        "Short blue waves are scattered much more strongly than long red waves.",
        "So blue light reaches our eyes from every part of the sky.",
        "At sunset, the light travels through more air, and the sky turns orange and red.",
        "On the moon, with no air at all, the daytime sky stays black.",
    ],
    [
        "Next, how does a bicycle stay upright?",
        "A bike standing still simply falls over.",
        "Once it is moving, the rider steers slightly into any lean.",
        "This moves the wheels back underneath the center of mass.",
        "The shape of the front fork also helps the bike steer itself.",
        "Spinning wheels add a little stability, but steering does most of the work.",
        "That is why riding faster usually feels steadier than riding slowly.",
    ],
    [
        "To sum up, everyday things often have simple science behind them.",
        "Yeast makes bread rise, scattered light makes the sky blue, and steering keeps a bike up.",
        "Next time you eat toast, look up, or ride a bike, you will know why.",
        "Thanks for listening.",
    ],
]

SHORT_SENTENCES = [
    "The weather today is sunny and warm.",
    "Later this evening, light rain will move in from the west.",
    "Tomorrow will be cool and cloudy.",
]

LONG_SENTENCES = [
    "Welcome to the long audio test.",
    "Rivers carry water from the mountains down to the sea.",
    "Along the way, they shape valleys and carve deep canyons.",
    "Many towns were built near rivers for water and for trade.",
    "Today, rivers still move goods on large flat boats.",
    "Some rivers freeze in winter and flood again in spring.",
    "A large dam can store water and make electricity.",
    "But a dam also blocks fish that swim up the river to lay their eggs.",
    "Scientists study rivers to keep them clean and healthy.",
    "Next time you cross a bridge, take a moment to look at the water below.",
    "That is the end of the long audio test.",
]

WEBM_SENTENCE = "This clip is stored in a different container."

BITEXACT = ["-fflags", "+bitexact", "-map_metadata", "-1", "-map_chapters", "-1"]
VBITEXACT = ["-flags:v", "+bitexact"]
ABITEXACT = ["-flags:a", "+bitexact"]


def ffmpeg_exe() -> str:
    env = os.environ.get("FFMPEG")
    if env:
        return env
    try:
        import imageio_ffmpeg  # type: ignore

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:
        exe = shutil.which("ffmpeg")
        if not exe:
            sys.exit("ffmpeg not found: install imageio-ffmpeg or set FFMPEG")
        return exe


def run(cmd: list[str]) -> None:
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr)
    subprocess.run([str(c) for c in cmd], check=True)


def ff(*args: str) -> None:
    run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args])


def check_tools() -> None:
    for tool in ("espeak-ng", "sox"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found on PATH (apt-get install espeak-ng sox)")


def say(text: str, out: Path) -> None:
    """Synthesize one sentence with espeak-ng to a 22.05 kHz mono wav."""
    run(["espeak-ng", "-v", VOICE, "-s", str(SPEED), "-w", str(out), text])


def speech_track(sentence_groups: list[list[str]], out: Path, *, tmp: Path, rate: int) -> None:
    """Concatenate per-sentence wavs with pauses; resample to `rate` Hz mono s16."""
    parts: list[Path] = []
    n = 0
    for gi, group in enumerate(sentence_groups):
        for si, sentence in enumerate(group):
            raw = tmp / f"{out.stem}_{n:03d}_raw.wav"
            padded = tmp / f"{out.stem}_{n:03d}.wav"
            say(sentence, raw)
            last_in_group = si == len(group) - 1
            pause = TOPIC_PAUSE if (last_in_group and gi < len(sentence_groups) - 1) else SENTENCE_PAUSE
            # strip espeak's own trailing silence so pauses are exactly controlled
            lead = LEAD_IN if n == 0 else 0
            # -D: no dither, so output is repeatable
            run(["sox", "-D", str(raw), str(padded), "reverse", "silence", "1", "0.02", "0.1%",
                 "reverse", "pad", str(lead), str(pause)])
            parts.append(padded)
            n += 1
    run(["sox", "-D", *map(str, parts), "-r", str(rate), "-c", "1", "-b", "16", str(out)])


def wav_duration(path: Path) -> float:
    res = subprocess.run(["soxi", "-D", str(path)], check=True, capture_output=True, text=True)
    return float(res.stdout.strip())


def script_text(sentence_groups: list[list[str]]) -> str:
    return "\n\n".join("\n".join(g) for g in sentence_groups) + "\n"


# --------------------------------------------------------------------------- sample


def make_sample(tmp: Path) -> None:
    SAMPLE_DIR.mkdir(parents=True, exist_ok=True)
    wav = tmp / "talk.wav"
    speech_track(TALK_TOPICS, wav, tmp=tmp, rate=44100)
    dur = wav_duration(wav)
    fps = 12
    ff(
        "-f", "lavfi", "-i", f"testsrc=size=320x180:rate={fps}:duration={dur:.3f}",
        "-i", str(wav),
        "-map", "0:v:0", "-map", "1:a:0",
        "-c:v", "libx264", "-preset", "veryslow", "-crf", "30", "-pix_fmt", "yuv420p",
        "-g", str(2 * fps), "-keyint_min", str(2 * fps), "-sc_threshold", "0", "-threads", "1",
        "-x264-params", "threads=1",
        "-c:a", "aac", "-b:a", "64k", "-ac", "1", "-ar", "44100",
        "-t", f"{dur:.3f}",
        *BITEXACT, *VBITEXACT, *ABITEXACT,
        "-movflags", "+faststart",
        str(SAMPLE_DIR / "talk.mp4"),
    )
    (SAMPLE_DIR / "talk.txt").write_text(script_text(TALK_TOPICS))


# ------------------------------------------------------------------------- fixtures


def small_video_args(fps: int = 10) -> list[str]:
    return [
        "-c:v", "libx264", "-preset", "veryslow", "-crf", "35", "-pix_fmt", "yuv420p",
        "-g", str(2 * fps), "-threads", "1", "-x264-params", "threads=1",
    ]


def make_fixtures(tmp: Path) -> None:
    MEDIA_DIR.mkdir(parents=True, exist_ok=True)
    fps = 10

    # speech_short.wav: ~10 s, 16 kHz mono PCM
    speech_track([SHORT_SENTENCES], MEDIA_DIR / "speech_short.wav", tmp=tmp, rate=16000)
    (MEDIA_DIR / "speech_short.txt").write_text(" ".join(SHORT_SENTENCES) + "\n")

    # speech_long.mp3: ~50 s audio only, pauses between sentences
    long_wav = tmp / "speech_long.wav"
    speech_track([[s] for s in LONG_SENTENCES], long_wav, tmp=tmp, rate=22050)
    ff("-i", str(long_wav), "-c:a", "libmp3lame", "-b:a", "32k", "-ac", "1", "-ar", "22050",
       "-write_xing", "1", *BITEXACT, *ABITEXACT, "-id3v2_version", "0",
       str(MEDIA_DIR / "speech_long.mp3"))
    (MEDIA_DIR / "speech_long.txt").write_text("\n".join(LONG_SENTENCES) + "\n")

    # noaudio.mp4: 3 s video only
    ff("-f", "lavfi", "-i", f"testsrc2=size=160x90:rate={fps}:duration=3",
       *small_video_args(fps), *BITEXACT, *VBITEXACT, "-movflags", "+faststart",
       str(MEDIA_DIR / "noaudio.mp4"))

    # silent.mp4: 3 s video + silent AAC track
    ff("-f", "lavfi", "-i", f"testsrc2=size=160x90:rate={fps}:duration=3",
       "-f", "lavfi", "-i", "anullsrc=channel_layout=mono:sample_rate=16000",
       "-map", "0:v:0", "-map", "1:a:0", *small_video_args(fps),
       "-c:a", "aac", "-b:a", "24k", "-t", "3",
       *BITEXACT, *VBITEXACT, *ABITEXACT, "-movflags", "+faststart",
       str(MEDIA_DIR / "silent.mp4"))

    # truncated.mp4: first 40 % of a non-faststart 4 s video+audio mp4 (moov at the end)
    full = tmp / "full_nofaststart.mp4"
    ff("-f", "lavfi", "-i", f"testsrc2=size=160x90:rate={fps}:duration=4",
       "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=4",
       "-map", "0:v:0", "-map", "1:a:0", *small_video_args(fps),
       "-c:a", "aac", "-b:a", "24k", "-ac", "1", "-t", "4",
       *BITEXACT, *VBITEXACT, *ABITEXACT, str(full))
    data = full.read_bytes()
    moov = data.find(b"moov")
    mdat = data.find(b"mdat")
    assert 0 <= mdat < moov, "expected moov after mdat (no faststart)"
    cut = int(len(data) * 0.4)
    assert cut < moov - 4, "cut must drop the moov atom"
    (MEDIA_DIR / "truncated.mp4").write_bytes(data[:cut])

    # text.mp4: a text file pretending to be an mp4
    (MEDIA_DIR / "text.mp4").write_text(
        "This is not a video.\n"
        "It is a plain text file with an .mp4 extension,\n"
        "used to test that clipforge rejects non-media input cleanly.\n"
    )

    # empty.mp4: 0 bytes
    (MEDIA_DIR / "empty.mp4").write_bytes(b"")

    # tone_vp9.webm: 4 s VP9 + Opus carrying espeak speech
    webm_wav = tmp / "webm_speech.wav"
    say(WEBM_SENTENCE, tmp / "webm_raw.wav")
    run(["sox", "-D", str(tmp / "webm_raw.wav"), "-r", "48000", "-c", "1", "-b", "16", str(webm_wav),
         "pad", "0.3", "4"])
    ff("-f", "lavfi", "-i", f"testsrc2=size=160x90:rate={fps}:duration=4",
       "-i", str(webm_wav),
       "-map", "0:v:0", "-map", "1:a:0",
       "-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "45", "-deadline", "good", "-cpu-used", "4",
       "-row-mt", "0", "-threads", "1", "-g", str(2 * fps), "-pix_fmt", "yuv420p",
       "-c:a", "libopus", "-b:a", "24k", "-ac", "1", "-t", "4",
       *BITEXACT, *VBITEXACT, *ABITEXACT,
       str(MEDIA_DIR / "tone_vp9.webm"))


# ---------------------------------------------------------------------------- check


def self_check() -> None:
    try:
        import av  # type: ignore
    except ImportError:
        print("PyAV not installed; skipping self-check", file=sys.stderr)
        return

    def probe(path: Path) -> str:
        try:
            with av.open(str(path)) as c:
                kinds = {}
                for s in c.streams:
                    kinds[s.type] = s.codec_context.name
                frames = {"video": 0, "audio": 0}
                for frame in c.decode(*c.streams):
                    kind = "video" if isinstance(frame, av.VideoFrame) else "audio"
                    frames[kind] += 1
                dur = c.duration / 1e6 if c.duration else float("nan")
                return f"ok  dur={dur:.2f}s streams={kinds} frames={frames}"
        except Exception as e:  # noqa: BLE001
            return f"ERR {type(e).__name__}: {e}"

    for p in [SAMPLE_DIR / "talk.mp4", *sorted(MEDIA_DIR.glob("*"))]:
        if p.exists() and p.suffix not in (".txt", ".md"):
            print(f"{p.relative_to(ROOT)} ({p.stat().st_size} B): {probe(p)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["sample", "fixtures"], help="generate just one group")
    ap.add_argument("--no-check", action="store_true", help="skip the PyAV self-check")
    args = ap.parse_args()
    check_tools()
    with tempfile.TemporaryDirectory(prefix="clipforge_media_") as d:
        tmp = Path(d)
        if args.only in (None, "sample"):
            make_sample(tmp)
        if args.only in (None, "fixtures"):
            make_fixtures(tmp)
    if not args.no_check:
        self_check()


if __name__ == "__main__":
    main()
