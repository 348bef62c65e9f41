"""faces: sample a clip's video a few times a second, find faces (OpenCV Haar) and scene cuts.

Everything runs offline: the cascade ships inside the opencv wheel (cv2.data). Decoding is the
main cost, so frames between samples are decoded but never converted, and each sample is scaled
down to `width` px by swscale (to gray) before any numpy work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from clipforge.errors import ClipforgeError, ErrorCode

CASCADE = "haarcascade_frontalface_default.xml"
DETECTOR = f"opencv-haar-frontalface-default {cv2.__version__}"
THUMB = (32, 18)  # scene-cut thumbnails: tiny, so noise and small motion average out
CUT_MAD = 28.0  # mean absolute grey difference (0-255) of thumbnails that counts as a new shot
CUT_HIST = 0.5  # ...or histogram total-variation distance (0-1): a different palette entirely


@dataclass(frozen=True, kw_only=True)
class FaceSample:
    t: float  # seconds from the clip start
    faces: tuple[tuple[int, int, int, int], ...] = ()  # (x, y, w, h) in source pixels
    scene_cut: bool = False  # a new shot starts at (or just before) t

    def to_dict(self) -> dict:
        return {"t": round(self.t, 3), "faces": [list(f) for f in self.faces], "scene_cut": self.scene_cut}


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


def find_faces(gray: np.ndarray, scale: float) -> tuple[tuple[int, int, int, int], ...]:
    """Faces in a small grey frame, as boxes in source pixels (`scale` = source px per small px)."""
    h = gray.shape[0]
    # The cascade's window is 24 px; faces under ~1/10 of the frame height are too small to frame anyway.
    side = max(24, round(h * 0.1))
    # No equalizeHist: on flat backgrounds it amplifies noise into false windows and hides the face.
    boxes = _classifier().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                           minSize=(side, side))
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
    decoded = 0
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
            src_w, src_h = stream.codec_context.width, stream.codec_context.height
            sw, sh = small_size(src_w, src_h, width)
            scale = src_w / sw
            next_t, prev_sig, pending = 0.0, None, []
            for frame in container.decode(stream):
                decoded += 1
                if frame.time is None:
                    continue
                t = frame.time - t0
                if t < -1e-3:
                    continue
                if t > duration:
                    break
                pending.append(frame)
                if t + 1e-3 < next_t:
                    continue
                gray = _gray(frame, sw, sh)
                sig = (thumb(gray), _hist(gray))
                cut = prev_sig is not None and is_cut(prev_sig, sig)
                if cut and len(pending) > 1:
                    # The cut lies somewhere since the previous sample: sample its first frame instead, so
                    # the camera jumps on the right frame rather than up to 1/fps late.
                    frame, gray, sig = _first_of_new_shot(pending, prev_sig, sig, sw=sw, sh=sh) or (frame, gray, sig)
                    t = frame.time - t0
                samples.append(FaceSample(t=t, faces=find_faces(gray, scale), scene_cut=cut))
                prev_sig, pending = sig, []
                next_t = (int(t * fps + 1e-6) + 1) / fps  # skip sample slots a sparse source cannot fill
    except av.error.FFmpegError as err:
        if not samples:
            raise ClipforgeError(f"faces: {Path(source).name} does not decode ({err.__class__.__name__})",
                                 code=ErrorCode.NOT_MEDIA) from None
        # A damaged tail: the samples so far are still good for framing.
    return FaceTrack(samples=tuple(samples), src=(src_w, src_h), fps=fps,
                     stats={"decoded": decoded, "sampled": len(samples), "small": [sw, sh]})


def _gray(frame, sw: int, sh: int) -> np.ndarray:
    return frame.reformat(width=sw, height=sh, format="gray").to_ndarray()


def _first_of_new_shot(pending, prev_sig, sig, *, sw, sh):
    """The earliest buffered frame that looks more like the new shot than the old one."""
    for frame in pending[:-1]:
        if frame.time is None:
            continue
        gray = _gray(frame, sw, sh)
        th = thumb(gray)
        if np.abs(th - sig[0]).mean() < np.abs(th - prev_sig[0]).mean():
            return frame, gray, (th, _hist(gray))
    return None
