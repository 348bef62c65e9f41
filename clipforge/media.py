"""ffmpeg and PyAV: find the binary, probe media, run ffmpeg so it never outlives us."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from clipforge.errors import ClipforgeError, ErrorCode, FFmpegError, InputError


def ffmpeg_exe() -> str:
    """FFMPEG_BINARY, then an ffmpeg on PATH, then the static one from imageio-ffmpeg."""
    explicit = os.environ.get("FFMPEG_BINARY")
    if explicit:
        return explicit
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(kw_only=True)
class MediaInfo:
    duration: float
    has_audio: bool
    has_video: bool
    fps: float | None
    width: int | None
    height: int | None
    audio_codec: str | None
    video_codec: str | None
    # The DISPLAY frame (what a player shows) is clipforge's one coordinate system: width and
    # height above are display pixels, after rotation and pixel shape; these say how it is stored.
    rotation: int = 0  # display-matrix rotation, degrees counter-clockwise: 0, 90, 180 or 270
    sar: tuple[int, int] = (1, 1)  # sample (pixel) aspect ratio of the stored frame
    stored_width: int | None = None
    stored_height: int | None = None
    audio_tracks: int = 1
    audio_channels: int | None = None
    audio_rate: int | None = None


def display_size(stored: tuple[int, int], *, rotation: int, sar: tuple[int, int]) -> tuple[int, int]:
    """The frame a player shows for a stored w x h frame: pixel shape first (width), then rotation."""
    w, h = stored
    if sar[0] > 0 and sar[1] > 0 and sar[0] != sar[1]:
        w = max(2, round(w * sar[0] / sar[1] / 2) * 2)
    return (h, w) if rotation % 180 == 90 else (w, h)


def _sar(video) -> tuple[int, int]:
    ratio = video.sample_aspect_ratio or video.codec_context.sample_aspect_ratio
    if not ratio or ratio.numerator <= 0 or ratio.denominator <= 0:
        return (1, 1)
    return (ratio.numerator, ratio.denominator)


def _rotation(container, video) -> int:
    """The display rotation (counter-clockwise degrees, a multiple of 90) of the first decoded frame.

    PyAV exposes the stream's display matrix (a phone's "rotate" flag) on decoded frames.
    """
    import av

    try:
        for frame in container.decode(video):
            return int(round(float(frame.rotation or 0) / 90.0)) * 90 % 360
    except (av.error.FFmpegError, AttributeError, ValueError):
        pass
    return 0


def probe(path: Path | str, label: str | None = None) -> MediaInfo:
    """Open with PyAV and decode a little audio; raise InputError (NOT_MEDIA / NO_AUDIO) with a hint.

    `label` names the file in messages (the user's input rather than our temporary copy).
    """
    import av

    path = Path(path)
    name = label or path.name
    if path.is_dir():
        raise InputError(f"input {name} is a directory, not a video file", code=ErrorCode.NOT_MEDIA)
    if not path.exists():
        raise InputError(f"input {name} does not exist")
    if path.stat().st_size == 0:
        raise InputError(f"input {name} is empty (0 bytes)", code=ErrorCode.NOT_MEDIA)
    try:
        with av.open(str(path)) as container:
            audio = next(iter(container.streams.audio), None)
            video = next(iter(container.streams.video), None)
            duration = _duration(container, audio, video)
            if audio is None:
                raise InputError(f"input {name} has no audio stream", code=ErrorCode.NO_AUDIO)
            _decode_some_audio(container, audio, name)
            fps = float(video.average_rate) if video is not None and video.average_rate else None
            shape: dict = {}
            if video is not None:
                stored = (video.codec_context.width, video.codec_context.height)
                container.seek(0)
                rotation, sar = _rotation(container, video), _sar(video)
                width, height = display_size(stored, rotation=rotation, sar=sar)
                shape = dict(width=width, height=height, rotation=rotation, sar=sar,
                             stored_width=stored[0], stored_height=stored[1])
            return MediaInfo(
                duration=duration, has_audio=True, has_video=video is not None, fps=fps,
                width=shape.pop("width", None), height=shape.pop("height", None),
                audio_codec=audio.codec_context.name,
                video_codec=video.codec_context.name if video is not None else None,
                audio_tracks=len(container.streams.audio), audio_channels=audio.codec_context.channels,
                audio_rate=audio.codec_context.sample_rate, **shape,
            )
    except ClipforgeError:
        raise
    except (av.error.FFmpegError, ValueError, StopIteration) as err:
        raise InputError(f"input {name} is not a decodable video or audio file ({err.__class__.__name__})",
                         code=ErrorCode.NOT_MEDIA) from None


def _duration(container, audio, video) -> float:
    if container.duration:
        return container.duration / 1_000_000
    for stream in (audio, video):
        if stream is not None and stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
    return 0.0


def _decode_some_audio(container, audio, name) -> None:
    import av

    try:
        for n, _frame in enumerate(container.decode(audio)):
            if n >= 3:
                return
    except av.error.FFmpegError as err:
        raise InputError(f"the audio of {name} does not decode ({err.__class__.__name__}); "
                         "the file may be truncated", code=ErrorCode.NOT_MEDIA) from None


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # A SIGKILLed doit cannot terminate its children; the kernel does it for us (PR_SET_PDEATHSIG).
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


# Set by `doit batch` for each video: several videos share the machine, so each may use only its share.
THREADS_ENV = "CLIPFORGE_THREADS"


def thread_budget() -> int | None:
    """The threads one run may use (CLIPFORGE_THREADS), or None for all of them."""
    try:
        n = int(os.environ.get(THREADS_ENV, ""))
    except ValueError:
        return None
    return n if n > 0 else None


def run_ffmpeg(args: list[str], *, what: str, timeout: float | None = None) -> None:
    """Run ffmpeg quietly; on failure raise FFmpegError with its last stderr line (DISK_FULL if it says so).

    `timeout` bounds a run that should long have finished: a stuck ffmpeg must become
    a retryable error, never a run that hangs forever.
    """
    _run(args, what=what, timeout=timeout, loglevel="error")


def ffmpeg_log(args: list[str], *, what: str, timeout: float | None = None) -> str:
    """run_ffmpeg, but at log level info, returning what ffmpeg printed (a filter's measurements)."""
    return _run(args, what=what, timeout=timeout, loglevel="info")


def _run(args: list[str], *, what: str, timeout: float | None, loglevel: str) -> str:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", loglevel, "-y", *args]
    if (threads := thread_budget()) and args:
        # The output file is always the last argument: -threads before it caps the encoder.
        cmd[-1:-1] = ["-threads", str(threads)]
        cmd[1:1] = ["-filter_threads", str(threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=_die_with_parent if os.name == "posix" else None)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise FFmpegError(f"{what}: ffmpeg did not finish within {timeout:.0f} s and was stopped") from None
    except BaseException:
        # Ctrl-C / SIGTERM: do not leave ffmpeg writing behind us.
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0:
        text = err.decode(errors="replace").strip()
        last = text.splitlines()[-1] if text else f"exit status {proc.returncode}"
        if "No space left" in text:
            raise ClipforgeError(f"{what}: disk full ({last})", code=ErrorCode.DISK_FULL)
        raise FFmpegError(f"{what}: ffmpeg failed: {last}")
    return err.decode(errors="replace")


def is_disk_full(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)


def is_not_writable(err: BaseException) -> bool:
    """A folder we must write to refuses it: permissions, or a read-only file system."""
    return isinstance(err, OSError) and err.errno in (errno.EACCES, errno.EPERM, errno.EROFS)


def not_writable_error(err: OSError) -> ClipforgeError:
    where = os.path.dirname(os.path.abspath(err.filename)) if err.filename else "the project folder"
    return ClipforgeError(f"cannot write in {where}: {err.strerror}", code=ErrorCode.NOT_WRITABLE,
                          hint=f"make {where} writable (chmod u+w, or a writable disk), then run `doit --retry`")
