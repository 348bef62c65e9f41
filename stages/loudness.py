"""loudness: measure each clip's sound once (EBU R128) so the one compose encode can normalise it.

A clip is posted where platforms play everything at about -14 LUFS: a quiet room must not come
out inaudible and a loud one must not be posted as is. This stage runs ffmpeg's loudnorm as a
first pass over the clip's span of the chosen audio track, after the same 48 kHz stereo downmix
the encode uses, and writes NN.loudness.json. Compose then applies loudnorm with these measured
values (linear where the peaks allow) in its single encode. A resumed run reads the file and
never measures again.

Shape of NN.loudness.json:
  target    {"i": LUFS, "tp": dBTP} or null for loudness=off
  track     the audio track used (source.json's choice)
  channels  channels of that track in the source (6 for 5.1: downmixed to stereo)
  measured  {"i", "tp", "lra", "thresh", "offset"} of the clip span, or null when not measured
  gain_db   the gain normalisation applies (target - measured i), or null
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
LRA = 11.0  # loudness range target: only matters for dynamic mode; linear mode keeps the range as it is
MAX_GAIN_DB = 20.0  # raising a recording more than this raises its room noise with it: warn
SILENT_LUFS = -70.0  # below this there is nothing to normalise: normalising would amplify noise only
CLIPPED_TP = -0.1  # a source peak this close to full scale was almost certainly clipped
# AAC encoding adds up to ~0.5 dB of true peak to what loudnorm let through (measured 0.3): its
# ceiling sits this far below the asked one, so the posted file keeps the asked ceiling.
TP_MARGIN = 1.0


def stereo_48k() -> str:
    """The channel and rate conversion every clip's audio goes through (measured and encoded alike).

    aformat lets libswresample downmix: 5.1 folds its centre and surrounds into left and right
    (LFE dropped) with its standard matrix, and mono goes to both sides equally: it stays centred.
    """
    return f"aformat=sample_fmts=fltp:sample_rates={RATE}:channel_layouts=stereo"


def measure(*, source: str, start: float, duration: float, track: int = 0, target: float = -14.0,
            true_peak: float = -1.0) -> dict:
    """loudnorm's first pass over the span: {"i", "tp", "lra", "thresh", "offset"} (floats; -inf for silence)."""
    flt = f"{stereo_48k()},loudnorm=I={target:g}:TP={true_peak:g}:LRA={LRA:g}:print_format=json"
    text = ffmpeg_log(["-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", source, "-map", f"0:a:{track}",
                       "-vn", "-af", flt, "-f", "null", "-"],
                      what="measuring loudness", timeout=120 + 2 * duration)
    return parse_loudnorm(text)


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
    i, tp = measured["i"], measured["tp"]
    if not math.isfinite(i) or i < SILENT_LUFS:
        return None, [f"no audible sound in the clip ({_db(i)} LUFS): left as is, not normalised"]
    gain = target - i
    warnings = []
    if gain > MAX_GAIN_DB:
        warnings.append(f"very quiet recording ({i:.1f} LUFS): raised by {gain:.1f} dB to {target:g} LUFS; "
                        "room noise is raised with it")
    if math.isfinite(tp) and tp >= CLIPPED_TP:
        warnings.append(f"the recording clips (true peak {tp:+.1f} dBTP): normalising cannot remove the distortion")
    # Peaks that the gain would push over the ceiling are no warning: loudnorm's limiter (its
    # dynamic mode) keeps them under it.
    return round(gain, 2), warnings


def _db(v: float) -> str:
    return f"{v:.1f}" if math.isfinite(v) else "-inf"


def plan(*, source: str, start: float, duration: float, track: int, channels: int | None, loudness: str,
         true_peak: float) -> dict:
    target = None if str(loudness).strip().lower() == "off" else loudness_target(loudness)
    measured = None
    if target is not None:
        measured = measure(source=source, start=start, duration=duration, track=track, target=target,
                           true_peak=true_peak)
    gain, warnings = decide(measured, target=target, true_peak=true_peak)
    return {
        "target": None if target is None else {"i": target, "tp": true_peak},
        "track": track, "channels": channels,
        "measured": None if measured is None else {k: (round(v, 2) if math.isfinite(v) else None)
                                                   for k, v in measured.items()},
        "gain_db": gain, "warnings": warnings,
    }


def run(job) -> None:
    """Per-clip stage (clipforge.stagelist "loudness"): one ClipJob in, NN.loudness.json out."""
    info = job.source_info
    decision = plan(source=job.source, start=job.clip.start, duration=job.clip.duration,
                    track=int(info.get("audio_track") or 0), channels=info.get("audio_channels"),
                    loudness=str(job.options["loudness"]), true_peak=float(job.options["true_peak"]))
    for line in decision["warnings"]:
        print(f"  WARNING loudness {job.clip.id}: {line}")
    write_json(job.output(".loudness.json"), decision)
