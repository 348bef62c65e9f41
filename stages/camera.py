"""camera: crop and output sizes per aspect, and a smooth virtual-camera path that follows a face.

Pure functions (no I/O): a FaceTrack's samples in, keyframes out. A keyframe (t, x, y, cut) is the
top-left corner of the crop window in source pixels at clip time t. Between two keyframes the window
moves linearly, except into a keyframe with cut=True: the window holds the previous position until
that time, then jumps (`position_at` is the reference reading of a path).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from clipforge.errors import ErrorCode, OptionError
from clipforge.stages.faces import FaceSample

ASPECTS = ("9:16", "1:1", "4:5", "16:9", "source")


@dataclass(frozen=True, kw_only=True)
class CameraOptions:
    dead_zone: float = 0.10  # share of the crop size the face may drift before the camera pans
    speed: float = 0.5  # pan speed limit, crop widths per second (both axes)
    reach: float = 1.0  # a target further than `reach` seconds of panning is cut to, not panned to
    hold: float = 1.0  # seconds a lost face keeps its claim as the subject (framing is held meanwhile)
    lookahead: float = 1.0  # a shot opens on its first face seen within this many seconds
    headroom: float = 0.4  # face centre at this share of the crop height from the top (portrait sources)
    max_per_minute: int = 100  # keyframe budget after thinning
    tolerance: float = 2.0  # px a thinned path may deviate from the simulated one


@dataclass(frozen=True, kw_only=True)
class Keyframe:
    t: float
    x: int
    y: int
    cut: bool = False

    def to_dict(self) -> dict:
        return {"t": round(self.t, 3), "x": self.x, "y": self.y, "cut": self.cut}


def _even(v: float) -> int:
    return math.floor(v / 2 + 0.5) * 2  # half up: 405 -> 406, as a person would round


def _ratio(aspect: str) -> tuple[int, int]:
    try:
        a, b = (int(p) for p in aspect.split(":"))
        if a > 0 and b > 0:
            return a, b
    except ValueError:
        pass
    raise OptionError(f"aspect={aspect!r} is not one of {', '.join(ASPECTS)}", code=ErrorCode.BAD_OPTION)


def crop_size(src_w: int, src_h: int, aspect: str) -> tuple[int, int]:
    """The largest even-sized window of `aspect` inside a src_w x src_h frame."""
    max_w, max_h = src_w - src_w % 2, src_h - src_h % 2
    if aspect == "source":
        return max_w, max_h
    a, b = _ratio(aspect)
    if src_w * b >= src_h * a:  # the source is wider than the aspect: full height
        return min(max_w, _even(src_h * a / b)), max_h
    return max_w, min(max_h, _even(src_w * b / a))


def output_size(aspect: str, height: int, src: tuple[int, int] | None = None) -> tuple[int, int]:
    """Output frame of `aspect` and `height` (even); "source" needs the source size to keep its shape."""
    if height < 2:
        raise OptionError(f"output height {height} is too small", code=ErrorCode.BAD_OPTION)
    if aspect == "source":
        if not src or not src[0] or not src[1]:
            raise OptionError("aspect=source needs a video stream to take the shape from", code=ErrorCode.BAD_OPTION)
        a, b = src
    else:
        a, b = _ratio(aspect)
    return max(2, _even(height * a / b)), max(2, _even(height))


def _samples(track) -> list[FaceSample]:
    """FaceTrack, a list of FaceSample, or their JSON dicts (as in NN.reframe.json)."""
    items = getattr(track, "samples", track) or ()
    out = []
    for s in items:
        if isinstance(s, dict):
            s = FaceSample(t=float(s["t"]), faces=tuple(tuple(int(v) for v in f) for f in s.get("faces", ())),
                           scene_cut=bool(s.get("scene_cut", False)))
        out.append(s)
    return sorted(out, key=lambda s: s.t)


def _centre(face) -> tuple[float, float]:
    x, y, w, h = face
    return x + w / 2, y + h / 2


def drop_isolated(samples: list[FaceSample]) -> list[FaceSample]:
    """Drop detections with no nearby face in the neighbouring samples of the same shot.

    Haar false positives flicker for a single sample; a real face persists, so one lone hit
    must not yank the camera across the frame.
    """
    if len(samples) < 2:
        return samples
    out = []
    for i, s in enumerate(samples):
        near = []
        if i > 0 and not s.scene_cut:
            near += samples[i - 1].faces
        if i + 1 < len(samples) and not samples[i + 1].scene_cut:
            near += samples[i + 1].faces
        kept = tuple(f for f in s.faces
                     if any(math.dist(_centre(f), _centre(g)) <= 1.5 * max(f[2], g[2]) for g in near))
        out.append(FaceSample(t=s.t, faces=kept, scene_cut=s.scene_cut) if kept != s.faces else s)
    return out


def _pick(faces, subject, *, frame_centre, crop_w):
    """The face to frame: nearest the subject when there is one, else the largest near the framing."""
    if not faces:
        return None
    if subject is not None:
        return min(faces, key=lambda f: math.dist(_centre(f), subject))
    return max(faces, key=lambda f: f[2] * f[3] / (1 + math.dist(_centre(f), frame_centre) / crop_w))


def _opening(samples: list[FaceSample], i: int, *, lookahead: float, frame_centre, crop_w: float):
    """The first face of the shot starting at samples[i], if one shows within `lookahead` seconds."""
    for j in range(i, len(samples)):
        s = samples[j]
        if (j > i and s.scene_cut) or s.t - samples[i].t > lookahead:
            return None
        face = _pick(s.faces, None, frame_centre=frame_centre, crop_w=crop_w)
        if face is not None:
            return face
    return None


def _follow(pos: float, target: float, *, dz: float, step: float, moving: bool) -> tuple[float, bool]:
    """One axis: start moving once the target leaves the dead zone, then keep going until centred."""
    err = target - pos
    if not moving and abs(err) <= dz:
        return pos, False
    if abs(err) <= step:
        return target, False
    return pos + math.copysign(step, err), True


def plan_path(*, track, src: tuple[int, int], crop: tuple[int, int], opts: CameraOptions = CameraOptions()
              ) -> list[Keyframe]:
    sw, sh = src
    cw, ch = crop
    samples = drop_isolated(_samples(track))
    max_x, max_y = max(0, sw - cw), max(0, sh - ch)
    centre = (max_x / 2, max_y / 2)

    def target(face) -> tuple[float, float]:
        fx, fy = _centre(face)
        return min(max_x, max(0.0, fx - cw / 2)), min(max_y, max(0.0, fy - opts.headroom * ch))

    if not samples:
        return [_key(0.0, *centre)]
    speed = opts.speed * cw
    raw: list[Keyframe] = []
    x, y = centre
    subject, last_seen, moving, prev_t = None, -math.inf, (False, False), 0.0
    for i, s in enumerate(samples):
        if i == 0 or s.scene_cut:
            # A new shot: open on its first face (looking ahead a little), else centre; never pan in.
            opening = _opening(samples, i, lookahead=opts.lookahead, frame_centre=(sw / 2, sh / 2), crop_w=cw)
            x, y = target(opening) if opening is not None else centre
            subject, last_seen, moving = None, -math.inf, (False, False)
            raw.append(_key(0.0 if i == 0 else s.t, x, y, cut=i > 0))
        face = _pick(s.faces, subject, frame_centre=(x + cw / 2, y + ch / 2), crop_w=cw)
        if face is None:
            if subject is not None and s.t - last_seen > opts.hold:
                subject = None  # gone for good: the next face may be anyone
            raw.append(_key(s.t, x, y))  # hold the last framing
            prev_t = s.t
            continue
        subject, last_seen = _centre(face), s.t
        tx, ty = target(face)
        step = speed * max(0.0, s.t - prev_t)
        if max(abs(tx - x), abs(ty - y)) > speed * opts.reach:
            x, y, moving = tx, ty, (False, False)
            raw.append(_key(s.t, x, y, cut=True))
        else:
            x, mx = _follow(x, tx, dz=opts.dead_zone * cw, step=step, moving=moving[0])
            y, my = _follow(y, ty, dz=opts.dead_zone * ch, step=step, moving=moving[1])
            moving = (mx, my)
            raw.append(_key(s.t, x, y))
        prev_t = s.t
    budget = max(2, math.ceil(opts.max_per_minute * max(samples[-1].t, 1.0) / 60))
    return thin(_dedupe(raw), opts.tolerance, budget)


def _key(t: float, x: float, y: float, *, cut: bool = False) -> Keyframe:
    return Keyframe(t=float(t), x=_even(x), y=_even(y), cut=cut)


def _dedupe(path: list[Keyframe]) -> list[Keyframe]:
    """One keyframe per time: the later position wins, a cut stays a cut (but never at t=0)."""
    out: list[Keyframe] = []
    for k in path:
        if out and abs(out[-1].t - k.t) < 1e-9:
            out[-1] = Keyframe(t=k.t, x=k.x, y=k.y, cut=(k.cut or out[-1].cut) and len(out) > 1)
        else:
            out.append(k)
    return out


def position_at(path: list[Keyframe], t: float) -> tuple[float, float]:
    """Where the crop window is at time t (the semantics compose must follow)."""
    if not path:
        return 0.0, 0.0
    prev = path[0]
    for k in path[1:]:
        if k.t > t:
            if k.cut or k.t <= prev.t:
                return float(prev.x), float(prev.y)
            a = (t - prev.t) / (k.t - prev.t)
            return prev.x + a * (k.x - prev.x), prev.y + a * (k.y - prev.y)
        prev = k
    return float(prev.x), float(prev.y)


def _fits(path: list[Keyframe], a: int, b: int, *, tol: float) -> bool:
    """Can keyframes strictly between a and b go, with the a->b segment within tol of each?"""
    seg = [path[a], path[b]]
    for m in range(a + 1, b):
        if path[m].cut:
            return False
        px, py = position_at(seg, path[m].t)
        if abs(px - path[m].x) > tol or abs(py - path[m].y) > tol:
            return False
    return True


def thin(path: list[Keyframe], tol: float = 2.0, budget: int | None = None) -> list[Keyframe]:
    """Merge collinear and stationary runs; widen the tolerance until the path fits the budget."""
    while True:
        out, a = [path[0]] if path else [], 0
        b = a + 1
        while b < len(path):
            if b + 1 < len(path) and _fits(path, a, b + 1, tol=tol):
                b += 1
                continue
            out.append(path[b])
            a, b = b, b + 1
        while len(out) > 1 and not out[-1].cut and (out[-1].x, out[-1].y) == (out[-2].x, out[-2].y):
            out.pop()  # the last position holds to the end anyway
        if budget is None or len(out) <= budget or tol > 1e4:
            return out
        tol *= 2


def coverage(track, path: list[Keyframe], crop: tuple[int, int]) -> float | None:
    """Share of samples with a face in which some face's centre lies inside the crop window."""
    cw, ch = crop
    seen = hit = 0
    for s in _samples(track):
        if not s.faces:
            continue
        seen += 1
        x, y = position_at(path, s.t)
        hit += any(x <= cx <= x + cw and y <= cy <= y + ch for cx, cy in map(_centre, s.faces))
    return hit / seen if seen else None
