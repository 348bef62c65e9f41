"""loudness: measure each clip's sound once (EBU R128) so the one compose encode can normalise it.

A clip is posted where platforms play everything at about -14 LUFS: a quiet room must not come
out inaudible and a loud one must not be posted as is. This stage measures the clip's span of the
chosen audio track with ffmpeg's loudnorm (first pass, after the same 48 kHz stereo downmix the
encode uses) and decides one gain and a peak limiter ceiling, writing NN.loudness.json. Compose
applies exactly that chain (`chain`) in its single encode; a resumed run reads the file and never
measures again.

Why a gain and a limiter rather than loudnorm's second pass: loudnorm's linear mode is just a gain,
and only possible while the raised peaks stay under the ceiling; for speech at -14 LUFS they
rarely do, and then loudnorm falls back to its dynamic mode, which missed the target by 2.4 LU on
a short 5.1 clip. Here the chain is checked in the stage (a second, audio-only pass) and the gain
corrected for what the limiter takes, so the encode lands on the target.

Shape of NN.loudness.json:
  target    {"i": LUFS, "tp": dBTP} or null for loudness=off
  track     the audio track used (source.json's choice)
  channels  channels of that track in the source (6 for 5.1: downmixed to stereo)
  measured  {"i", "tp", "lra", "thresh", "offset"} of the clip span (loudnorm, after the stereo
            downmix) and {"peak", "peak_count"} (astats, the track as recorded), or null
  gain_db   the gain the encode applies (about target - measured i), or null: no normalisation
  limit_db  the limiter's ceiling in dBFS (below the true-peak target: inter-sample peaks, AAC)
  expected  {"i", "tp"} the chain's output as checked in this stage (before AAC encoding)
  warnings  lines for the log, manifest and review page (too quiet, clipped, no sound)
"""

from __future__ import annotations

import json
import math
import re

from clipforge.config import loudness_target
from clipforge.fsutil import write_json
from clipforge.media import ffmpeg_log

RATE = 48000
LRA = 11.0  # loudnorm's range target: its first pass only measures, so this changes nothing
MAX_GAIN_DB = 20.0  # raising a recording more than this raises its room noise with it: warn
SILENT_LUFS = -70.0  # below this there is nothing to normalise: normalising would amplify noise only
CLIPPED_DB = -0.1  # sample peaks this close to full scale ...
CLIPPED_COUNT = 8  # ... reached this often: the recording was clipped (speech rarely touches 0 dBFS twice)
OVER_DB = 0.3  # a decoded lossy track peaking above full scale was mastered into clipping
# AAC encoding adds up to ~0.5 dB of true peak (measured 0.3): the chain's own true peak is kept
# this far below the asked ceiling, so the posted file keeps the asked one.
TP_MARGIN = 1.0
LIMIT_BELOW = 0.5  # dB the sample-peak limiter sits under that: inter-sample peaks rise above samples
CHECKS = 3  # passes at most to settle the gain and the limit (each an audio-only decode of the span)
CLOSE_LU = 0.3  # the checked output is this close to the target: done


def stereo_48k() -> str:
    """The channel and rate conversion every clip's audio goes through (measured and encoded alike).

    aformat lets libswresample downmix: 5.1 folds its centre and surrounds into left and right
    (LFE dropped) with its standard matrix, and mono goes to both sides equally: it stays centred.
    """
    return f"aformat=sample_fmts=fltp:sample_rates={RATE}:channel_layouts=stereo"


def measure(*, source: str, start: float, duration: float, track: int = 0, target: float = -14.0,
            true_peak: float = -1.0) -> dict:
    """loudnorm's first pass over the span: {"i", "tp", "lra", "thresh", "offset"} (floats; -inf for silence)."""
    # astats on the track as recorded (its own filter input, so its own format): clipping shows as
    # samples stuck at full scale there, before a downmix scales them. One decode for both.
    graph = (f"[0:a:{track}]astats=measure_perchannel=none:measure_overall=Peak_level+Peak_count[peaks];"
             f"[0:a:{track}]{stereo_48k()},loudnorm=I={target:g}:TP={true_peak:g}:LRA={LRA:g}"
             f":print_format=json[level]")
    text = ffmpeg_log(["-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", source, "-filter_complex", graph,
                       "-map", "[peaks]", "-f", "null", "-", "-map", "[level]", "-f", "null", "-"],
                      what="measuring loudness", timeout=120 + 2 * duration)
    return {**parse_loudnorm(text), **parse_astats(text)}


def parse_astats(text: str) -> dict:
    """{"peak": sample peak dBFS, "peak_count": samples at that peak} from astats' Overall block."""
    overall = text[text.rfind("Overall"):] if "Overall" in text else ""
    peak = re.search(r"Peak level dB:\s*(-?[\d.]+|-inf)", overall)
    count = re.search(r"Peak count:\s*([\d.]+)", overall)
    return {"peak": float(peak.group(1)) if peak else -math.inf,
            "peak_count": float(count.group(1)) if count else 0.0}


def parse_loudnorm(text: str) -> dict:
    """The JSON block loudnorm prints at the end of a first pass."""
    blocks = re.findall(r"\{[^{}]*\"input_i\"[^{}]*\}", text)
    if not blocks:
        raise ValueError("loudnorm printed no measurement")
    data = json.loads(blocks[-1])

    def num(key: str) -> float:
        try:
            return float(data[key])
        except (KeyError, TypeError, ValueError):
            return -math.inf
    return {"i": num("input_i"), "tp": num("input_tp"), "lra": max(0.0, num("input_lra")),
            "thresh": num("input_thresh"), "offset": num("target_offset")}


def decide(measured: dict | None, *, target: float | None, true_peak: float) -> tuple[float | None, list[str]]:
    """(gain in dB normalisation applies or None, warnings) for one measured clip."""
    if target is None or measured is None:
        return None, []
    i = measured["i"]
    if not math.isfinite(i) or i < SILENT_LUFS:
        return None, [f"no audible sound in the clip ({_db(i)} LUFS): left as is, not normalised"]
    gain = target - i
    warnings = []
    if gain > MAX_GAIN_DB:
        warnings.append(f"very quiet recording ({i:.1f} LUFS): raised by {gain:.1f} dB to {target:g} LUFS; "
                        "room noise is raised with it")
    if clipped(measured):
        warnings.append(f"the recording clips (peaks at {measured['peak']:+.1f} dBFS, "
                        f"{measured['peak_count']:.0f} samples): normalising cannot remove the distortion")
    # Peaks that the gain would push over the ceiling are no warning: the limiter keeps them under it.
    return round(gain, 2), warnings


def clipped(measured: dict) -> bool:
    """Samples stuck at full scale (a clipped PCM recording), or decoded peaks above it (a hot lossy one)."""
    peak, count = measured.get("peak", -math.inf), measured.get("peak_count", 0.0)
    return (peak >= CLIPPED_DB and count >= CLIPPED_COUNT) or peak > OVER_DB


def _db(v: float) -> str:
    return f"{v:.1f}" if math.isfinite(v) else "-inf"


def chain(gain_db: float | None, limit_db: float | None) -> str:
    """The audio filter chain compose runs (and this stage checks): 48 kHz stereo, gain, limiter."""
    parts = [stereo_48k()]
    if gain_db is not None:
        parts.append(f"volume={gain_db:.2f}dB")
        if limit_db is not None:
            # latency=1: the limiter's look-ahead must not shift the sound against the picture.
            parts.append(f"alimiter=limit={10 ** (limit_db / 20):.4f}:attack=5:release=50:level=0:latency=1")
    return ",".join(parts)


def check(*, source: str, start: float, duration: float, track: int, filters: str) -> dict:
    """Loudness and true peak of what `filters` makes of the span: {"i", "tp", ...}."""
    text = ffmpeg_log(["-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", source, "-map", f"0:a:{track}", "-vn",
                       "-af", f"{filters},loudnorm=print_format=json", "-f", "null", "-"],
                      what="checking loudness", timeout=120 + 2 * duration)
    return parse_loudnorm(text)


def calibrate(span: dict, *, gain: float, target: float, true_peak: float) -> tuple[float, float, dict, int]:
    """(gain, limit, checked output, passes): settle the chain so its output hits target and ceiling.

    The limiter takes some loudness off the raised peaks; the gain makes that up, within reason.
    """
    ceiling = true_peak - TP_MARGIN
    limit = ceiling - LIMIT_BELOW
    first, out, passes, prev = gain, {}, 0, None
    for passes in range(1, CHECKS + 1):
        out = check(**span, filters=chain(gain, limit))
        short, over = target - out["i"], out["tp"] - ceiling
        if abs(short) <= CLOSE_LU and over <= 0:
            break
        if passes < CHECKS:
            # The more gain, the more the limiter takes: from the second pass on, step along the
            # measured slope (output LU per dB of gain) instead of one dB per LU.
            slope = 1.0
            if prev is not None and abs(gain - prev[0]) > 1e-3:
                slope = min(1.0, max(0.2, (out["i"] - prev[1]) / (gain - prev[0])))
            prev = (gain, out["i"])
            gain = min(first + 6.0, gain + short / slope)  # never more than 6 dB above the plain gain
            limit = limit - max(0.0, over + 0.1)
    return round(gain, 2), round(limit, 2), out, passes


def plan(*, source: str, start: float, duration: float, track: int, channels: int | None, loudness: str,
         true_peak: float) -> dict:
    target = None if str(loudness).strip().lower() == "off" else loudness_target(loudness)
    span = {"source": source, "start": start, "duration": duration, "track": track}
    measured = None
    if target is not None:
        measured = measure(**span, target=target, true_peak=true_peak)
    gain, warnings = decide(measured, target=target, true_peak=true_peak)
    limit, expected, passes = None, None, 0
    if gain is not None:
        gain, limit, expected, passes = calibrate(span, gain=gain, target=target, true_peak=true_peak)
        if abs(expected["i"] - target) > 1.0 or expected["tp"] > true_peak:
            warnings.append(f"could not reach {target:g} LUFS / {true_peak:g} dBTP: the clip comes out at "
                            f"{expected['i']:.1f} LUFS, true peak {expected['tp']:.1f} dBTP")
    return {
        "target": None if target is None else {"i": target, "tp": true_peak},
        "track": track, "channels": channels,
        "measured": _rounded(measured), "gain_db": gain, "limit_db": limit,
        "expected": None if expected is None else _rounded({k: expected[k] for k in ("i", "tp")}),
        "passes": passes, "warnings": warnings,
    }


def _rounded(values: dict | None) -> dict | None:
    return None if values is None else {k: (round(v, 2) if math.isfinite(v) else None) for k, v in values.items()}


def run(job) -> None:
    """Per-clip stage (clipforge.stagelist "loudness"): one ClipJob in, NN.loudness.json out."""
    info = job.source_info
    decision = plan(source=job.source, start=job.clip.start, duration=job.clip.duration,
                    track=int(info.get("audio_track") or 0), channels=info.get("audio_channels"),
                    loudness=str(job.options["loudness"]), true_peak=float(job.options["true_peak"]))
    for line in decision["warnings"]:
        print(f"  WARNING loudness {job.clip.id}: {line}")
    write_json(job.output(".loudness.json"), decision)
