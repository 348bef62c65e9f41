#!/usr/bin/env python3
"""Make tests/media/german_speech.opus: about 20 s of German read by espeak-ng (voice `de`), with its text.

Speech that is not English: the English-only bundled model must not turn it into confident English
captions, and `whisper_model=base language=` must hear German. Needs espeak-ng at generation time
only (Debian: apt-get install espeak-ng); the tests use the committed files.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT = ("Guten Morgen, meine Damen und Herren. Heute sprechen wir über die Geschichte der Brücken in Europa. "
        "Viele Brücken wurden im neunzehnten Jahrhundert gebaut, und manche stehen noch heute. "
        "Warum halten manche Brücken so lange, während andere schnell verfallen? "
        "Das liegt vor allem am Material und an der Pflege.")


def main() -> None:
    import imageio_ffmpeg

    out = ROOT / "tests" / "media" / "german_speech.opus"
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "de.wav"
        subprocess.run(["espeak-ng", "-v", "de", "-s", "150", "-w", str(wav), TEXT], check=True)
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), "-ac", "1",
                        "-ar", "16000", "-c:a", "libopus", "-b:a", "24k", "-map_metadata", "-1",
                        "-fflags", "+bitexact", str(out)],
                       check=True)
    out.with_suffix(".txt").write_text(TEXT + "\n", encoding="utf-8")
    print(f"{out}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
