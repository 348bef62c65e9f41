"""Make the "real-world" test media of issue 19: what phones, cameras and recorders produce.

Each maker writes one small file with real ffmpeg (imageio-ffmpeg) and returns its path; the
tests call them into a temporary folder (a few seconds each), so nothing large is committed:

  rotated(dest, rotation)  a phone clip stored sideways/upside down with a display-matrix flag:
                           the DISPLAY picture is a 640x360 landscape with tests/media/face.png
                           moving left to right, stored turned so that only the flag makes it upright
  anamorphic(dest)         480x360 stored at 4:3 pixels (display 640x360): a circle and a face
  wide(dest)               1280x720 wide shot, the face ~36 px high (5 %) walking across the stage
  audio_levels(dest, db)   tests/media/speech_short.wav at `db` dB gain under a moving-face video
  surround(dest)           5.1: the speech in the centre channel, a quiet hum in the surrounds
  two_tracks(dest)         track 0 music-like tones (no speech), track 1 the speech
  two_faces(dest)          two still faces, left and right
  phone(dest)              24 s for a whole pipeline run: rotated -90, two tracks, quiet speech on track 1

    python tools/make_realworld_media.py OUT_DIR   # all of them, to look at
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FACE = ROOT / "tests" / "media" / "face.png"  # 120x128
SPEECH = ROOT / "tests" / "media" / "speech_short.wav"  # 9.6 s of English speech, mono 16 kHz
SECONDS = 6
FPS = 12
W, H = 640, 360
X0, SPEED, Y = 20, 70, 116  # the face's top-left x = X0 + SPEED * t (display px)
# A turn that undoes a display rotation (counter-clockwise degrees): stored = turned display picture.
_STORE = {90: "transpose=clock", 270: "transpose=cclock", 180: "hflip,vflip"}


def _ff(args: list[str], what: str) -> None:
    sys.path.insert(0, str(ROOT))
    from clipforge.media import run_ffmpeg

    run_ffmpeg(args, what=what, timeout=120)


def _x264() -> list[str]:
    return ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", str(2 * FPS)]


def face_x(t: float) -> float:
    """The face's centre x in the display frame at time t (the moving-face videos)."""
    return X0 + SPEED * t + 60


def _moving_face(extra: str = "") -> str:
    return f"[0][1]overlay=x='{X0}+{SPEED}*t':y={Y}:shortest=1{extra}"


def _speech_input(gain_db: float = 0.0) -> list[str]:
    return ["-stream_loop", "-1", "-i", str(SPEECH)], f"volume={gain_db}dB"


def rotated(dest: Path, rotation: int) -> Path:
    """Display rotation `rotation` (ffmpeg's sense: counter-clockwise degrees; -90 is the usual phone)."""
    ccw = rotation % 360
    dest = Path(dest)
    plain = dest.with_suffix(".stored.mp4")
    audio, af = _speech_input()
    _ff(["-f", "lavfi", "-i", f"color=c=0x406080:s={W}x{H}:r={FPS}:d={SECONDS}", "-loop", "1", "-i", str(FACE),
         *audio, "-filter_complex", _moving_face(f",{_STORE[ccw]}[v];[2]{af}[a]"), "-map", "[v]", "-map", "[a]",
         "-t", str(SECONDS), *_x264(), "-c:a", "aac", str(plain)], "rotated test video")
    _ff(["-display_rotation", str(rotation), "-i", str(plain), "-c", "copy", str(dest)], "rotation flag")
    plain.unlink()
    return dest


def anamorphic(dest: Path) -> Path:
    """640x360 display picture stored as 480x360 with 4:3 pixels; a 100 px circle at (420, 180) and a face."""
    audio, af = _speech_input()
    _ff(["-f", "lavfi", "-i", f"color=c=0x406080:s={W}x{H}:r={FPS}:d={SECONDS}", "-loop", "1", "-i", str(FACE),
         *audio, "-filter_complex",
         f"[0]geq=lum='if(lt(hypot(X-420,Y-180),50),235,90)':cb=128:cr=128[bg];[bg][1]overlay=x=120:y={Y}:"
         f"shortest=1,scale=480:360,setsar=4/3[v];[2]{af}[a]", "-map", "[v]", "-map", "[a]",
         "-t", str(SECONDS), *_x264(), "-c:a", "aac", str(dest)], "anamorphic test video")
    return Path(dest)


def wide(dest: Path, seconds: int = SECONDS) -> Path:
    """A 1280x720 30 fps stage: a face ~36 px high (5 %; 56 px with hair and chin) walking at 120 px/s
    (slower for a longer clip, so it stays on the stage to the end)."""
    speed = min(120, round(1000 / seconds))
    audio, af = _speech_input()
    _ff(["-f", "lavfi", "-i", f"color=c=0x303840:s=1280x720:r=30:d={seconds}", "-loop", "1", "-i", str(FACE),
         *audio, "-filter_complex",
         "[0]drawbox=x=0:y=520:w=iw:h=200:color=0x604030:t=fill[bg];[1]scale=52:56[f];"
         f"[bg][f]overlay=x='100+{speed}*t':y=300:shortest=1[v];[2]{af}[a]", "-map", "[v]", "-map", "[a]",
         "-t", str(seconds), *_x264(), "-c:a", "aac", str(dest)], "wide-shot test video")
    return Path(dest)


def audio_levels(dest: Path, gain_db: float, rate: int = 48000) -> Path:
    """The moving-face video with the speech at `gain_db` (e.g. -40: a quiet room; +12: clipping loud)."""
    audio, af = _speech_input(gain_db)
    _ff(["-f", "lavfi", "-i", f"color=c=0x406080:s={W}x{H}:r={FPS}:d={SECONDS}", "-loop", "1", "-i", str(FACE),
         *audio, "-filter_complex", _moving_face(f"[v];[2]{af},aresample={rate}[a]"), "-map", "[v]", "-map", "[a]",
         "-t", str(SECONDS), *_x264(), "-c:a", "pcm_s16le", str(Path(dest).with_suffix(".mov"))], "audio test video")
    return Path(dest).with_suffix(".mov")


def surround(dest: Path) -> Path:
    """5.1 at 48 kHz: speech in FC only, a low hum at -30 dB in the surrounds, nothing in LFE."""
    audio, _ = _speech_input()
    _ff(["-f", "lavfi", "-i", f"color=c=0x406080:s={W}x{H}:r={FPS}:d={SECONDS}", "-loop", "1", "-i", str(FACE),
         *audio, "-f", "lavfi", "-i", f"sine=f=110:r=48000:d={SECONDS}", "-filter_complex",
         _moving_face("[v];[2]aresample=48000,aformat=channel_layouts=mono,volume=-12dB,atrim=duration=6[c];"
                      "[3]aformat=channel_layouts=mono,volume=-30dB[h];"
                      "[c][h]amerge=inputs=2,pan=5.1|FL=0*c0|FR=0*c0|FC=c0|LFE=0*c0|BL=c1|BR=c1[a]"),
         "-map", "[v]", "-map", "[a]", "-t", str(SECONDS), *_x264(), "-c:a", "aac", "-b:a", "256k",
         str(dest)], "5.1 test video")
    return Path(dest)


def two_tracks(dest: Path) -> Path:
    """Two audio tracks: 0 = a chord of steady tones (music bed, no speech), 1 = the speech."""
    audio, af = _speech_input()
    _ff(["-f", "lavfi", "-i", f"color=c=0x406080:s={W}x{H}:r={FPS}:d={SECONDS}", "-loop", "1", "-i", str(FACE),
         *audio, "-f", "lavfi", "-i", f"sine=f=220:r=48000:d={SECONDS}", "-f", "lavfi", "-i",
         f"sine=f=330:r=48000:d={SECONDS}", "-filter_complex",
         _moving_face(f"[v];[3][4]amix=inputs=2,volume=-12dB[m];[2]{af}[s]"),
         "-map", "[v]", "-map", "[m]", "-map", "[s]", "-t", str(SECONDS), *_x264(), "-c:a", "aac", str(dest)],
        "two-track test video")
    return Path(dest)


def two_faces(dest: Path) -> Path:
    """A two-person shot: one face still on the left, one on the right (a podcast or interview)."""
    audio, af = _speech_input()
    _ff(["-f", "lavfi", "-i", f"color=c=0x406080:s={W}x{H}:r={FPS}:d={SECONDS}", "-loop", "1", "-i", str(FACE),
         *audio, "-filter_complex",
         f"[1]split[f1][f2];[0][f1]overlay=x=60:y={Y}:shortest=1[a1];[a1][f2]overlay=x=460:y={Y - 40}[v];"
         f"[2]{af}[a]", "-map", "[v]", "-map", "[a]", "-t", str(SECONDS), *_x264(), "-c:a", "aac", str(dest)],
        "two-face test video")
    return Path(dest)


def phone(dest: Path, seconds: int = 24) -> Path:
    """All at once, for a whole pipeline run: stored sideways (-90), track 0 a music bed, track 1 the
    speech 24 dB down (a quiet room), the face moving in the upright (landscape) picture."""
    dest = Path(dest)
    plain = dest.with_suffix(".stored.mp4")
    _ff(["-f", "lavfi", "-i", f"color=c=0x406080:s={W}x{H}:r={FPS}:d={seconds}", "-loop", "1", "-i", str(FACE),
         "-stream_loop", "-1", "-i", str(SPEECH), "-f", "lavfi", "-i", f"sine=f=220:r=48000:d={seconds}",
         "-filter_complex",
         f"[0][1]overlay=x='{X0}+20*t':y={Y}:shortest=1,{_STORE[270]}[v];[3]volume=-12dB[m];[2]volume=-24dB[s]",
         "-map", "[v]", "-map", "[m]", "-map", "[s]", "-t", str(seconds), *_x264(), "-c:a", "aac", str(plain)],
        "phone test video")
    _ff(["-display_rotation", "-90", "-i", str(plain), "-map", "0", "-c", "copy", str(dest)], "rotation flag")
    plain.unlink()
    return dest


def main(out: str) -> None:
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    for r in (-90, 90, 180):
        print(rotated(d / f"rot{r}.mp4", r))
    print(anamorphic(d / "anamorphic.mp4"), wide(d / "wide.mp4"), audio_levels(d / "quiet", -40),
          audio_levels(d / "loud", 12), surround(d / "surround.mp4"), two_tracks(d / "two.mp4"),
          phone(d / "phone.mp4"))


if __name__ == "__main__":
    main(sys.argv[1])
