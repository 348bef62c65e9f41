"""faces: sample a clip's video a few times a second, find faces (OpenCV Haar) and scene cuts.

Everything runs offline: the cascade ships inside the opencv wheel (cv2.data). Decoding is the
main cost, so frames between samples are decoded but never converted, and each sample is scaled
down to `width` px by swscale (to gray) before any numpy work.

Frames are analysed in the DISPLAY frame (what a player shows): the stored frame is scaled to its
display shape (non-square pixels) and turned by its rotation flag, so boxes are display pixels,
the coordinates of the camera path and of compose's crop.

Small faces: the first pass (`width` px wide) finds faces down to ~1/10 of the frame height. A
sample where it finds nothing gets a second look at SMALL_FACE_HEIGHT px high, for faces only
(down to ~1/20 of the height, a wide stage shot); only where needed, so the cost of a close-up
does not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from clipforge.errors import ClipforgeError, ErrorCode

CASCADE = "haarcascade_frontalface_default.xml"
DETECTOR = f"opencv-haar-frontalface-default {cv2.__version__}"
SMALL_FACE = 0.05  # faces down to this share of the frame height are looked for
BIG_SIDE = 24  # px: the cascade's window, the smallest face it can find
# The small-face look's frame height: a 5 % face is 30 px there, safely above the 24 px window
# (at 480 px, 24 px faces, the cascade misses most of them); ~25 ms a sample on one core.
BIG_HEIGHT = 600
THUMB = (32, 18)  # scene-cut thumbnails: tiny, so noise and small motion average out
CUT_MAD = 28.0  # mean absolute grey difference (0-255) of thumbnails that counts as a new shot
CUT_HIST = 0.5  # ...or histogram total-variation distance (0-1): a different palette entirely


@dataclass(frozen=True, kw_only=True)
class FaceSample:
    t: float  # seconds from the clip start
    faces: tuple[tuple[int, int, int, int], ...] = ()  # (x, y, w, h) in display pixels
    scene_cut: bool = False  # a new shot starts at (or just before) t

    def to_dict(self) -> dict:
        return {"t": round(self.t, 3), "count": len(self.faces), "faces": [list(f) for f in self.faces],
                "scene_cut": self.scene_cut}


@dataclass(frozen=True, kw_only=True)
class FaceTrack:
    samples: tuple[FaceSample, ...] = ()
    detector: str = DETECTOR
    src: tuple[int, int] = (0, 0)
    fps: float = 4.0
    stats: dict = field(default_factory=dict, compare=False)  # decoded/sampled frame counts, for reports


_cascade: cv2.CascadeClassifier | None = None


def _classifier() -> cv2.CascadeClassifier:
    global _cascade
    if _cascade is None:
        _cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
        if _cascade.empty():  # a broken opencv install: not the user's input
            raise ClipforgeError(f"OpenCV could not load {CASCADE}", code=ErrorCode.INTERNAL)
    return _cascade


def find_faces(gray: np.ndarray, scale: float, max_side: int | None = None) -> tuple[tuple[int, int, int, int], ...]:
    """Faces in a small grey frame, as boxes in display pixels (`scale` = display px per small px).

    At most `max_side` px (the second, small-face look skips sizes the first pass already covered).
    """
    h = gray.shape[0]
    side = max(BIG_SIDE, round(h * 0.1)) if max_side is None else BIG_SIDE
    limit = (max_side, max_side) if max_side else None
    # No equalizeHist: on flat backgrounds it amplifies noise into false windows and hides the face.
    # Small faces get fewer overlapping hits at the few scales they span: 4 neighbours there, not 5.
    boxes = _classifier().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=4 if max_side else 5,
                                           minSize=(side, side), **({"maxSize": limit} if limit else {}))
    return tuple(tuple(int(round(v * scale)) for v in box) for box in (boxes if len(boxes) else ()))


def thumb(gray: np.ndarray) -> np.ndarray:
    return cv2.resize(gray, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)


def _hist(gray: np.ndarray) -> np.ndarray:
    h = np.bincount((gray >> 3).ravel(), minlength=32).astype(np.float32)
    return h / max(1.0, float(h.sum()))


def is_cut(prev: tuple[np.ndarray, np.ndarray], cur: tuple[np.ndarray, np.ndarray]) -> bool:
    """Two (thumbnail, histogram) pairs from different shots?"""
    mad = float(np.abs(prev[0] - cur[0]).mean())
    tv = 0.5 * float(np.abs(prev[1] - cur[1]).sum())
    return mad > CUT_MAD or tv > CUT_HIST


def small_size(src_w: int, src_h: int, width: int) -> tuple[int, int]:
    w = min(width, src_w)
    return max(2, w - w % 2), max(2, round(src_h * w / src_w / 2) * 2)


def detect(*, source: str | Path, start: float, duration: float, fps: float = 4.0, width: int = 320) -> FaceTrack:
    """Sample [start, start+duration] of `source` about `fps` times a second; faces and cuts per sample."""
    import av

    if fps <= 0 or width < 64:
        raise ClipforgeError(f"face detection needs fps > 0 and width >= 64 (got {fps}, {width})",
                             code=ErrorCode.BAD_OPTION)
    samples: list[FaceSample] = []
    decoded = second = 0
    view = None
    try:
        with av.open(str(source)) as container:
            if not container.streams.video:
                return FaceTrack(samples=(), src=(0, 0), fps=fps, stats={"decoded": 0})
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # frame threads: decode is the main cost
            # Nothing references non-reference frames (B-frames), so not decoding them is free accuracy-wise.
            stream.codec_context.skip_frame = "NONREF"
            tb = stream.time_base
            origin = float(stream.start_time * tb) if stream.start_time is not None else 0.0
            t0 = origin + start
            if start > 0:
                container.seek(int(t0 / tb), stream=stream, backward=True)
            stored = (stream.codec_context.width, stream.codec_context.height)
            next_t, prev_sig, pending = 0.0, None, []
            for frame in container.decode(stream):
                decoded += 1
                if frame.time is None:
                    continue
                if view is None:
                    view = _View.of(frame, stored=stored, sar=_stream_sar(stream), width=width)
                t = frame.time - t0
                if t < -1e-3:
                    continue
                if t > duration:
                    break
                pending.append(frame)
                if t + 1e-3 < next_t:
                    continue
                gray = view.gray(frame)
                sig = (thumb(gray), _hist(gray))
                cut = prev_sig is not None and is_cut(prev_sig, sig)
                if cut and len(pending) > 1:
                    # The cut lies somewhere since the previous sample: sample its first frame instead, so
                    # the camera jumps on the right frame rather than up to 1/fps late.
                    frame, gray, sig = _first_of_new_shot(pending, prev_sig, sig, view=view) or (frame, gray, sig)
                    t = frame.time - t0
                found = find_faces(gray, view.scale)
                if not found and view.big is not None:
                    second += 1
                    found = find_faces(view.gray(frame, big=True), view.big_scale, max_side=view.big_max)
                samples.append(FaceSample(t=t, faces=found, scene_cut=cut))
                prev_sig, pending = sig, []
                next_t = (int(t * fps + 1e-6) + 1) / fps  # skip sample slots a sparse source cannot fill
    except av.error.FFmpegError as err:
        if not samples:
            raise ClipforgeError(f"faces: {Path(source).name} does not decode ({err.__class__.__name__})",
                                 code=ErrorCode.NOT_MEDIA) from None
        # A damaged tail: the samples so far are still good for framing.
    if view is None:
        return FaceTrack(samples=(), src=(0, 0), fps=fps, stats={"decoded": decoded})
    return FaceTrack(samples=tuple(samples), src=view.display, fps=fps,
                     stats={"decoded": decoded, "sampled": len(samples), "small": list(view.small),
                            "second_look": second, "big": list(view.big) if view.big else None,
                            "rotation": view.rotation, "frame": "display"})


def _stream_sar(stream) -> tuple[int, int]:
    ratio = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    return (ratio.numerator, ratio.denominator) if ratio and ratio.numerator > 0 and ratio.denominator > 0 else (1, 1)


@dataclass(frozen=True, kw_only=True)
class _View:
    """How a stored frame becomes the small grey DISPLAY frame the detector sees."""

    rotation: int  # counter-clockwise degrees of the display matrix (0, 90, 180, 270)
    display: tuple[int, int]  # the display frame, px
    small: tuple[int, int]  # the first pass's frame (display orientation)
    big: tuple[int, int] | None  # the small-face look's frame, or None when the first pass already reaches them
    big_max: int = 0  # the largest face (px, big frame) the second look searches: bigger ones pass 1 found

    @classmethod
    def of(cls, frame, *, stored: tuple[int, int], sar: tuple[int, int], width: int) -> _View:
        from clipforge.media import display_size

        rotation = int(round(float(getattr(frame, "rotation", 0) or 0) / 90.0)) * 90 % 360
        display = display_size(stored, rotation=rotation, sar=sar)
        small = small_size(*display, width)
        big = None
        if small[1] * SMALL_FACE < BIG_SIDE * 1.25 and display[1] > small[1]:
            h = min(display[1], BIG_HEIGHT)
            big = small_size(*display, round(h * display[0] / display[1]))
        big_max = round(max(BIG_SIDE, small[1] * 0.1) * (big[1] / small[1]) * 1.25) if big else 0
        return cls(rotation=rotation, display=display, small=small, big=big, big_max=big_max)

    @property
    def scale(self) -> float:
        return self.display[0] / self.small[0]

    @property
    def big_scale(self) -> float:
        return self.display[0] / self.big[0] if self.big else self.scale

    def gray(self, frame, big: bool = False) -> np.ndarray:
        w, h = self.big if big and self.big else self.small
        if self.rotation % 180:
            w, h = h, w  # swscale scales the stored (unturned) frame
        gray = frame.reformat(width=w, height=h, format="gray").to_ndarray()
        if self.rotation:
            # np.rot90 turns counter-clockwise, the display matrix's sense (ffmpeg's autorotate agrees).
            gray = np.ascontiguousarray(np.rot90(gray, self.rotation // 90))
        return gray


def _first_of_new_shot(pending, prev_sig, sig, *, view: _View):
    """The earliest buffered frame that looks more like the new shot than the old one."""
    for frame in pending[:-1]:
        if frame.time is None:
            continue
        gray = view.gray(frame)
        th = thumb(gray)
        if np.abs(th - sig[0]).mean() < np.abs(th - prev_sig[0]).mean():
            return frame, gray, (th, _hist(gray))
    return None
