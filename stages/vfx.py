"""vfx: decide how a clip is reframed for a post-ready short; writes NN.reframe.json for compose.

Shape of NN.reframe.json (compose implements against it):
  mode     "face" | "center" | "fit" | "off"
  aspect   the requested aspect ("9:16", "1:1", "4:5", "16:9", "source")
  frame    "display": every size and position here is in display pixels (what a player shows:
           the source's rotation flag and pixel shape applied; source.json says how it is stored)
  source   {"w", "h"} of the video stream's display frame, or null without one
  crop     {"w", "h"} window cut from the source (the whole source for fit/off), or null without video
  output   {"w", "h"} frame to encode
  path     [{"t", "x", "y", "cut"}]: top-left of the crop window at clip time t (see stages.camera);
           empty for fit/off
  detector face detector name, or null when none ran
  samples  [{"t", "count", "faces": [[x, y, w, h]], "scene_cut"}] the detector's samples: how many
           faces and where, per sample (display px)
  faces    {"max": most faces in one sample, "several": share of face samples with 2+ faces}
  coverage share of face samples whose face the window keeps, or null
  note     one line for the report
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clipforge.errors import ErrorCode, OptionError
from clipforge.fsutil import write_json
from clipforge.stages import faces as faces_mod
from clipforge.stages.camera import CameraOptions, coverage, crop_size, output_size, plan_path

MODES = ("face", "center", "fit", "off")
AUDIO_ONLY_ASPECT = "9:16"  # no picture to take a shape from: a short is portrait


@dataclass(frozen=True, kw_only=True)
class ReframeOptions:
    fps: float = 4.0  # face samples per second
    width: int = 320  # px the detector sees (wider finds smaller faces, costs more)
    camera: CameraOptions = CameraOptions()


def _size(w, h) -> dict:
    return {"w": int(w), "h": int(h)}


def _check(aspect: str, reframe: str, height: int) -> None:
    if reframe not in MODES:
        raise OptionError(f"reframe={reframe!r} is not one of {', '.join(MODES)}", code=ErrorCode.BAD_OPTION)
    if aspect != "source":
        output_size(aspect, height)  # raises BAD_OPTION for a malformed aspect or height
    elif height < 2:
        raise OptionError(f"output height {height} is too small", code=ErrorCode.BAD_OPTION)


def plan_reframe(*, source: str | Path, start: float, duration: float, src_size: tuple[int, int] | None,
                 has_video: bool, aspect: str, reframe: str, height: int,
                 opts: ReframeOptions = ReframeOptions(), detect=faces_mod.detect) -> dict:
    """`detect` is a seam for tests; everything else is decided from the arguments."""
    _check(aspect, reframe, height)
    if not has_video or not src_size:
        out = output_size(AUDIO_ONLY_ASPECT if aspect == "source" else aspect, height)
        return _decision("off", aspect, None, crop=None, out=out,
                         note="no video stream: compose draws the output frame")
    sw, sh = src_size
    if aspect == "source" or reframe == "off":
        note = "aspect=source: no reframe" if aspect == "source" else "reframe=off: source shape kept"
        # aspect=source keeps the source frame as it is (height is ignored), so a clip with
        # nothing else to compose is a plain cut; reframe=off keeps the shape at the asked height.
        out = tuple(src_size) if aspect == "source" else output_size("source", height, src_size)
        return _decision("off", aspect, src_size, crop=src_size, out=out, note=note)
    out = output_size(aspect, height)
    if reframe == "fit":
        return _decision("fit", aspect, src_size, crop=src_size, out=out,
                         note="whole frame letterboxed on a blurred copy")
    crop = crop_size(sw, sh, aspect)
    centre = plan_path(track=(), src=(sw, sh), crop=crop)  # one keyframe, the same centre camera uses
    if reframe == "center":
        return _decision("center", aspect, src_size, crop=crop, out=out, path=centre, note="centre framing")
    track = detect(source=source, start=start, duration=duration, fps=opts.fps, width=opts.width)
    samples = [s.to_dict() for s in track.samples]
    found = sum(1 for s in track.samples if s.faces)
    if not found:
        return _decision("face", aspect, src_size, crop=crop, out=out, path=centre, detector=track.detector,
                         samples=samples, note="no face found: centre framing")
    path = plan_path(track=track, src=(sw, sh), crop=crop, opts=opts.camera)
    cov = coverage(track, path, crop)
    cuts = sum(k.cut for k in path)
    return _decision("face", aspect, src_size, crop=crop, out=out, path=path, detector=track.detector, samples=samples,
                     coverage=cov, note=f"face in {found}/{len(samples)} samples, {len(path)} keyframes, "
                                        f"{cuts} cut(s), coverage {cov:.0%}")


def _decision(mode, aspect, src, *, crop, out, path=(), detector=None, samples=(), coverage=None, note="") -> dict:
    return {
        "mode": mode, "aspect": aspect, "frame": "display",
        "source": _size(*src) if src else None,
        "crop": _size(*crop) if crop else None,
        "output": _size(*out),
        "path": [k.to_dict() for k in path],
        "detector": detector, "samples": list(samples), "faces": _face_counts(samples),
        "coverage": None if coverage is None else round(coverage, 4),
        "note": note,
    }


def _face_counts(samples) -> dict:
    """How many faces the samples hold: a later layout stage (or the editor) can choose a split."""
    counts = [len(s.get("faces") or ()) for s in samples]
    with_face = [c for c in counts if c]
    return {"max": max(counts, default=0),
            "several": round(sum(c > 1 for c in with_face) / len(with_face), 4) if with_face else 0.0}


def write_reframe(path: str | Path, decision: dict) -> None:
    write_json(path, decision)



def run(job) -> None:
    """Per-clip stage (clipforge.stagelist "vfx"): one ClipJob in, NN.reframe.json out."""
    info = job.source_info
    has_video = bool(info.get("has_video"))
    src = (int(info["width"]), int(info["height"])) if has_video and info.get("width") and info.get("height") else None
    decision = plan_reframe(source=job.source, start=job.clip.start, duration=job.clip.duration, src_size=src,
                            has_video=has_video, aspect=job.options["aspect"], reframe=job.options["reframe"],
                            height=int(job.options["height"]))
    write_reframe(job.output(".reframe.json"), on_timeline(decision, job))


def on_timeline(decision: dict, job) -> dict:
    """The camera path moved onto the tightened timeline (tighten/NN.cuts.json); faces are found on
    the whole source span, so `samples` keep source-clip times."""
    from clipforge.fsutil import read_json
    from clipforge.stages.camera import Keyframe, position_at
    from clipforge.timeline import Timeline

    cuts = job.inputs.get("tighten.cuts.json")
    timeline = Timeline.from_decision(read_json(cuts) if cuts else None, job.clip.duration,
                                      label=f"tighten/{job.clip.id}.cuts.json")
    if timeline.is_whole or not decision.get("path"):
        return decision
    keys = [Keyframe(t=k["t"], x=k["x"], y=k["y"], cut=k.get("cut", False)) for k in decision["path"]]
    path = timeline.map_path(decision["path"], lambda t: position_at(keys, t))
    return {**decision, "path": path, "timeline": "tightened (tighten/cuts.json); samples in source-clip time"}
