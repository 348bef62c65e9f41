"""Platform presets (`platform=tiktok|shorts|reels|none`): frame, longest clip, safe zone, loudness.

A preset fills in options the user did not set (the command line and [tool.clipforge] win), so
what it changes is hashed like any option and re-runs only the stages that read it. The safe zone
is the part of the frame no app UI covers: the caption bar, the buttons down the right side, the
tabs on top. Figures are the apps' published or commonly measured overlays on a 1080x1920 frame,
kept as fractions of the frame so they hold at any `height=`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class SafeZone:
    """Margins, as fractions of the frame, that captions and overlays keep clear of."""

    top: float
    bottom: float
    left: float
    right: float

    def box(self, size: tuple[int, int]) -> tuple[int, int, int, int]:
        """The zone in pixels: (x0, y0, x1, y1), x1/y1 exclusive."""
        w, h = size
        return (round(self.left * w), round(self.top * h), w - round(self.right * w), h - round(self.bottom * h))


@dataclass(frozen=True, kw_only=True)
class Platform:
    name: str
    height: int  # output height (9:16: 1080x1920)
    max_len: float  # the longest clip the app takes, seconds
    safe: SafeZone
    loudness: float  # integrated loudness target, LUFS (the app normalises to about this)
    true_peak: float = -1.0  # dBTP


# TikTok: caption/description and the sound bar cover the bottom ~25 %, the like/comment/share
# column about the right 15 %, the Following/For You tabs the top ~8 %. Shorts: title, channel and
# subscribe cover the bottom ~22 %, its buttons the right ~16 %, the top ~10 %. Reels: caption and
# audio the bottom ~23 %, buttons the right ~12 %, the camera/top bar ~12 %. All three normalise
# playback to about -14 LUFS.
PLATFORMS: dict[str, Platform] = {
    "tiktok": Platform(name="tiktok", height=1920, max_len=600.0,
                       safe=SafeZone(top=0.08, bottom=0.25, left=0.06, right=0.15), loudness=-14.0),
    "shorts": Platform(name="shorts", height=1920, max_len=180.0,
                       safe=SafeZone(top=0.10, bottom=0.22, left=0.06, right=0.16), loudness=-14.0),
    "reels": Platform(name="reels", height=1920, max_len=180.0,
                      safe=SafeZone(top=0.12, bottom=0.23, left=0.06, right=0.12), loudness=-14.0),
}
# platform=none: no app's UI to avoid; captions keep clipforge's own margins.
NO_PLATFORM = SafeZone(top=0.05, bottom=0.22, left=0.06, right=0.06)
NAMES = ("none", *PLATFORMS)


def safe_zone(name: str) -> SafeZone:
    return PLATFORMS[name].safe if name in PLATFORMS else NO_PLATFORM


def preset_options(name: str) -> dict[str, object]:
    """The options a preset sets unless the user set them.

    `loudness` is read by the loudness option of the audio chain where that option exists (it is
    skipped where it does not: see config.load_options); `hook` makes a platform's clips open on
    their title.
    """
    if name not in PLATFORMS:
        return {}
    p = PLATFORMS[name]
    return {"aspect": "9:16", "height": p.height, "hook": "title", "loudness": str(p.loudness)}
