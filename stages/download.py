"""download: bring the input (a local file or a URL) into temp_processing/ and probe it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from clipforge.errors import DownloadError, ErrorCode, InputError, OptionError
from clipforge.fsutil import atomic_path, sha256_file, write_json
from clipforge.media import ffmpeg_exe, probe
from clipforge.redact import is_url, redact_url, scrub


def check_local(path: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"input file {path} does not exist")
    if p.is_dir():
        raise InputError(f"input {path} is a directory; pass a video file inside it", code=ErrorCode.NOT_MEDIA)
    return p


def run(input_source: str, media_out: str, info_out: str, *, audio_track: int = -1) -> None:
    """Link/copy or download the source to `media_out`, probe it, and write `info_out` (source.json).

    width/height in source.json are the DISPLAY frame (rotation and pixel shape applied), the one
    frame every later decision is in; `stored` is the frame as coded. `audio_track` < 0: the
    first track that holds speech.
    """
    out = Path(media_out)
    with atomic_path(out, ".media") as tmp:
        if is_url(input_source):
            _download(input_source, tmp)
        else:
            _link_or_copy(check_local(input_source), tmp)
        info = probe(tmp, label=redact_url(input_source))
    track, why = _audio_track(str(out), info, audio_track)
    write_json(info_out, {
        "input": redact_url(input_source) if is_url(input_source) else str(Path(input_source)),
        "sha256": sha256_file(out),
        "size": out.stat().st_size,
        "duration": info.duration,
        "has_video": info.has_video,
        "fps": info.fps,
        "width": info.width,
        "height": info.height,
        "audio_codec": info.audio_codec,
        "video_codec": info.video_codec,
        "frame": "display",
        "rotation": info.rotation,
        "sar": f"{info.sar[0]}:{info.sar[1]}",
        "stored": {"w": info.stored_width, "h": info.stored_height} if info.has_video else None,
        "audio_tracks": info.audio_tracks,
        "audio_track": track,
        "audio_track_why": why,
        "audio_channels": info.audio_channels,
        "audio_rate": info.audio_rate,
    })
    if info.rotation or info.sar[0] != info.sar[1]:
        print(f"  download: stored {info.stored_width}x{info.stored_height}, rotation {info.rotation}, "
              f"pixel shape {info.sar[0]}:{info.sar[1]}: clips use the display frame {info.width}x{info.height}")


def _audio_track(media: str, info, wanted: int) -> tuple[int, str]:
    from clipforge.stages.audio import choose_track

    if wanted >= info.audio_tracks:
        raise OptionError(f"audio_track={wanted} but the input has {info.audio_tracks} audio track(s) "
                          f"(0-{info.audio_tracks - 1})", code=ErrorCode.BAD_OPTION)
    track, why = choose_track(media, info.audio_tracks, wanted if wanted >= 0 else None)
    if info.audio_tracks > 1 or wanted >= 0:
        print(f"  download: {why}")
    return track, why


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)  # free and instant on the same file system
    except OSError:
        shutil.copyfile(src, dest)


def _download(url: str, dest: Path) -> None:
    import yt_dlp

    from clipforge.progress import Progress

    work = dest.with_name(dest.name + ".dl")
    work.mkdir(exist_ok=True)
    bar: dict[str, Progress] = {}

    def hook(d: dict) -> None:
        if d.get("status") == "downloading":
            total = d.get("total_bytes") or d.get("total_bytes_estimate") or 0
            bar.setdefault("p", Progress("download", total / 1e6 if total else 0.0, unit="MB"))
            bar["p"].update(d.get("downloaded_bytes", 0) / 1e6)

    opts = {
        "outtmpl": str(work / "media.%(ext)s"),  # never a name the remote side controls
        "ffmpeg_location": ffmpeg_exe(),
        "progress_hooks": [hook],
        "quiet": True, "no_warnings": True, "noprogress": True, "noplaylist": True,
        "format": "b[acodec!=none]/bv*+ba/b",
        "retries": 3, "socket_timeout": 30,
        "logger": _QuietLogger(),
    }
    try:
        with yt_dlp.YoutubeDL(opts) as ydl:
            ydl.download([url])
    except Exception as err:  # yt-dlp raises DownloadError/ExtractorError with the URL in the text
        reason = str(err).replace("ERROR: ", "").splitlines()[0] if str(err) else err.__class__.__name__
        raise DownloadError(f"could not download {redact_url(url)}: {scrub(reason, url)[:200]}") from None
    finally:
        for p in bar.values():
            p.close()
    files = [p for p in work.iterdir() if p.is_file() and not p.name.endswith((".part", ".ytdl"))]
    if not files:
        shutil.rmtree(work, ignore_errors=True)
        raise DownloadError(f"download of {redact_url(url)} produced no file")
    os.replace(max(files, key=lambda p: p.stat().st_size), dest)
    shutil.rmtree(work, ignore_errors=True)


class _QuietLogger:
    """yt-dlp's messages go nowhere: errors come back as exceptions, and they may carry the URL's secrets."""

    def debug(self, msg: str) -> None:
        pass

    info = warning = debug

    def error(self, msg: str) -> None:
        pass
