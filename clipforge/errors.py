"""One error tree: every failure a user can meet has a code, an exit status and a hint.

The CLI (clipforge.cli) is the only place that turns these into an exit status
and a single line of output; stages only raise.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class _Code:
    exit_status: int
    hint: str
    retryable: bool


class ErrorCode(enum.Enum):
    """Documented error codes (README: "Error codes"). Exit statuses 0-3 belong to doit."""

    INPUT_NOT_FOUND = _Code(10, "check the path, or pass input=FILE_OR_URL", False)
    NOT_MEDIA = _Code(11, "pass a video or audio file that ffmpeg can decode", False)
    NO_AUDIO = _Code(12, "pass a video with a sound track; clips are chosen from speech", False)
    DOWNLOAD_FAILED = _Code(13, "check the URL and your network, then run `doit --retry`", True)
    BAD_OPTION = _Code(14, "fix the option (see README, Options) and run again", False)
    BROLL_INVALID = _Code(15, "check broll=: a folder of video or image files that ffmpeg can read (README, B-roll)", False)
    CLUSTER_UNREACHABLE = _Code(16, "check scheduler=tcp://HOST:8786 (is `dask scheduler` running and reachable from here?), or leave scheduler= out for a local cluster", True)
    MODEL_LOAD_FAILED = _Code(20, "check whisper_model= (a local CTranslate2 model path or name) and device=", False)
    TRANSCRIBE_FAILED = _Code(21, "run `doit --retry`; if it repeats, try another whisper_model= or device=cpu", True)
    LLM_UNREACHABLE = _Code(30, "check OPENAI_BASE_URL / OPENAI_API_KEY and the server, then `doit --retry`; or segmenter=offline", True)
    LLM_REPLY_INVALID = _Code(31, "run `doit --retry`, use a model that supports structured output (llm_model=), or segmenter=offline", True)
    LLM_CONTEXT_EXCEEDED = _Code(33, "lower max_len= (each request holds one clip's transcript), or give the server a bigger context (llama.cpp: --ctx-size)", False)
    NO_CLIPS = _Code(32, "lower min_len=, raise max_len=, or use a longer input", False)
    FFMPEG_FAILED = _Code(40, "run `doit --retry`; set FFMPEG_BINARY to use another ffmpeg", True)
    CAPTIONS_NOT_VISIBLE = _Code(41, "libass drew no text: reinstall clipforge (it ships its font), check fontsdir, or run with captions=off", False)
    DISK_FULL = _Code(50, "free disk space, then run `doit --retry`; finished work is kept", True)
    NOT_WRITABLE = _Code(51, "make the project folder, clips/ and temp_processing/ writable (chmod u+w), then run `doit --retry`", True)
    STATE_CORRUPT = _Code(60, "run `doit --nocache` to discard the state and start fresh", False)
    LOCKED = _Code(61, "wait for the other run to finish (or stop it), then try again", True)
    INPUT_MISMATCH = _Code(62, "run `doit --nocache input=...` to discard the previous run, or `doit --retry` without input= to finish it", False)
    TEMP_LINKED = _Code(63, "temp_processing must be a real folder: remove the link (`rm temp_processing`; what it points to is kept), then run again", False)
    INTERRUPTED = _Code(130, "run `doit --retry` to resume where it stopped", True)
    INJECTED = _Code(70, "test hook CLIPFORGE_FAIL_AT is set; unset it and run `doit --retry`", True)
    INTERNAL = _Code(71, "run `doit --retry`; set CLIPFORGE_DEBUG=1 for a traceback and report it", True)

    @property
    def exit_status(self) -> int:
        return self.value.exit_status

    @property
    def hint(self) -> str:
        return self.value.hint

    @property
    def retryable(self) -> bool:
        return self.value.retryable


class ClipforgeError(Exception):
    """Base of every error clipforge raises on purpose."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, code: ErrorCode | None = None, hint: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self._hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code.name

    @property
    def hint(self) -> str:
        return self._hint or self.code.hint

    def one_line(self) -> str:
        from clipforge.redact import scrub  # every printed failure passes here: no secret may

        return scrub(f"clipforge: error {self.code.name} ({self.code.exit_status}): {self.message} -- {self.hint}")


class InputError(ClipforgeError):
    """The user's input cannot be used (missing, not media, no audio)."""

    code = ErrorCode.INPUT_NOT_FOUND


class OptionError(ClipforgeError):
    code = ErrorCode.BAD_OPTION


class DownloadError(ClipforgeError):
    code = ErrorCode.DOWNLOAD_FAILED


class TranscribeError(ClipforgeError):
    code = ErrorCode.TRANSCRIBE_FAILED


class LLMError(ClipforgeError):
    code = ErrorCode.LLM_UNREACHABLE


class LLMReplyError(LLMError):
    code = ErrorCode.LLM_REPLY_INVALID


class FFmpegError(ClipforgeError):
    code = ErrorCode.FFMPEG_FAILED


class StateError(ClipforgeError):
    code = ErrorCode.STATE_CORRUPT


class LockedError(ClipforgeError):
    code = ErrorCode.LOCKED

