"""Files clipforge ships inside the package: the caption font.

libass burns nothing (and ffmpeg still exits 0) when it finds no font, so captions
always use this folder through the subtitles filter's `fontsdir`, never system fonts.
"""

from __future__ import annotations

from pathlib import Path

FONTS_DIR = Path(__file__).with_name("fonts")
FONT_NAME = "DejaVu Sans"  # the family of the bundled DejaVuSans-Bold.ttf


def font_files(_options=None) -> list[str]:
    """The bundled font files: an input of every stage that draws text."""
    return [str(p) for p in sorted(FONTS_DIR.glob("*.ttf"))]


def caption_files(options=None) -> list[str]:
    """The font, plus the user's own caption style file (caption_style=PATH): editing it re-renders."""
    style = str(getattr(options, "caption_style", "") or "")
    path = Path(style).expanduser()
    own = [str(path.resolve())] if style.endswith(".ass") and path.is_file() else []
    return font_files(options) + own
