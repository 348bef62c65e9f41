"""Options: `doit key=value` over `[tool.clipforge]` in pyproject.toml over built-in defaults.

Each stage hashes only the options it reads, so changing one option re-runs
only the stages it affects (and, through file checksums, what depends on them).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import math
import os
import secrets
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from clipforge.errors import OptionError
from clipforge.platforms import NAMES, PLATFORMS, preset_options
from clipforge.stagelist import stage_options

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True, kw_only=True)
class Options:
    input: str = "sample/talk.mp4"
    whisper_model: str = "auto"  # auto (tiny.en on a small CPU, base on 8+ cores or a GPU), bundled, base, a path
    device: str = "cpu"
    compute_type: str = "int8"
    language: str = "en"
    chunk_minutes: float = 10.0
    whisper_mode: str = "batched"  # batched (faster) or sequential (conditions on the previous text)
    whisper_batch: int = 0  # VAD windows decoded per batch; 0: chosen from the CPU cores / GPU memory
    segmenter: str = "auto"
    llm_model: str = "gpt-4o-mini"
    llm_timeout: float = 120.0
    llm_retries: int = 4
    llm_choose: str = "no"  # yes: the model also re-ranks the shortlist (strong models only)
    clips: int = 5
    min_len: float = 15.0
    max_len: float = 60.0
    padding: float = 0.2
    cut: str = "reencode"
    preset: str = "superfast"  # x264 speed/size trade-off for every encode
    captions: str = "burn"  # burn (and sidecars), sidecar (SRT/VTT only), off
    caption_chars: int = 32  # characters per caption line at most
    caption_words: int = 3  # words per highlighted caption chunk (1-4)
    caption_style: str = "bold"  # bold, boxed, pop, lower, or a path to your own .ass style file
    tighten: str = "yes"  # yes: shorten pauses (and cut fillers) inside each clip, in the same encode
    tighten_pause: float = 0.4  # a silence longer than this (seconds) is shortened ...
    tighten_breath: float = 0.15  # ... to this breath
    platform: str = "none"  # tiktok, shorts, reels: frame, longest clip, safe zone, loudness (clipforge.platforms)
    hook: str = "off"  # title: the clip's title over its first seconds (a platform preset turns it on)
    aspect: str = "9:16"
    reframe: str = "face"
    height: int = 1280  # output height in pixels; the width follows the aspect
    broll: str = ""  # a folder of the user's own videos/images; empty: no B-roll
    broll_mode: str = "cutaway"
    broll_max: int = 2  # inserts per clip at most
    broll_max_len: float = 3.0  # seconds per insert at most
    broll_protect: float = 2.0  # opening seconds of a clip never covered
    broll_share: float = 0.3  # share of a clip covered at most
    loudness: str = "-14"  # integrated loudness target in LUFS (EBU R128) for every clip, or "off"
    true_peak: float = -1.0  # true-peak ceiling in dBTP for the loudness normalisation
    audio_track: int = -1  # audio track to use (0 = first); -1: the first track that holds speech
    keep: str = "no"  # yes: keep temp_processing/ (the editable decisions) after success

    def stage_hash(self, stage: str) -> str:
        """Hash of the options `stage` depends on (its Stage record in clipforge.stagelist)."""
        picked = {k: getattr(self, k) for k in stage_options().get(stage, ())}
        if "input" in picked:
            picked["input"] = input_identity(self.input)
        if "whisper_model" in picked:  # `auto` is another model once base is installed: transcribe again
            picked["whisper_model"] = self.resolved_whisper_model()
        if stage == "segment":
            picked["segmenter"] = self.resolved_segmenter()
            picked["llm_endpoint"] = llm_endpoint_identity()
        return hashlib.sha256(json.dumps(picked, sort_keys=True).encode()).hexdigest()[:16]

    def config_hash(self) -> str:
        values = {k: v for k, v in asdict(self).items() if k not in _NOT_HASHED}
        values["input"] = input_identity(self.input)
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]

    def resolved_whisper_model(self) -> str:
        from clipforge.whisper_models import resolve

        return resolve(self.whisper_model, device=self.device, language=self.language)

    def resolved_segmenter(self) -> str:
        if self.segmenter != "auto":
            return self.segmenter
        return "llm" if llm_configured() else "offline"


CHOICES = {
    "segmenter": ("auto", "llm", "offline"),
    "cut": ("reencode", "copy"),
    "device": ("cpu", "cuda", "auto"),
    "whisper_mode": ("batched", "sequential"),
    "preset": ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"),
    "captions": ("burn", "sidecar", "off"),
    "aspect": ("9:16", "1:1", "4:5", "16:9", "source"),
    "reframe": ("face", "center", "fit", "off"),
    "broll_mode": ("cutaway", "pip"),
    "keep": ("no", "yes"),
    "llm_choose": ("no", "yes"),
    "tighten": ("yes", "no"),
    "platform": NAMES,
    "hook": ("title", "off"),
}

# Every option's default, written once (the Options fields above); stage option records
# default to these and are built from the options by `pick`.
DEFAULTS = Options()
# Options that change no output, so they never make a finished run stale.
_NOT_HASHED = ("keep",)

_FIELDS = {f.name: f for f in fields(Options)}
# Options where `inf` means "no limit": one transcription chunk, no maximum clip length.
UNLIMITED_OK = {"chunk_minutes", "max_len"}
MIN_CHUNK_MINUTES = 0.05  # 3 s: shorter chunks only multiply whisper calls
# doit's own variables that are not clipforge options.
_IGNORED_VARS = {"pdb"}


def pick(record: type, opts: Options, **extra):
    """Build a stage's option record from the options of the same names (plus `extra`)."""
    names = ({f.name for f in fields(record)} & set(_FIELDS)) - set(extra)
    return record(**{n: getattr(opts, n) for n in names}, **extra)


KEY_FILE = Path(".clipforge-key")
# The display form a resumed run is named by (the saved URL without its secrets) -> the identity
# of the run it names: a URL's secrets are never saved, so its identity is taken from the state.
_RESUMED: dict[str, str] = {}
_keys: dict[str, bytes] = {}


def folder_key() -> bytes:
    """This project folder's random key for input identities (`.clipforge-key`, git-ignored, mode 0600).

    Created once, atomically (a fully written temporary file is linked into place), so two
    processes can never read different keys.
    """
    here = os.getcwd()
    if here not in _keys:
        try:
            text = KEY_FILE.read_text().strip()
        except FileNotFoundError:
            tmp = Path(f".{KEY_FILE.name}.{os.getpid()}.part")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, KEY_FILE)
            except FileExistsError:
                pass  # another process was first: use its key
            finally:
                tmp.unlink()
            text = KEY_FILE.read_text().strip()
        _keys[here] = bytes.fromhex(text)
    return _keys[here]


def input_identity(raw: str) -> str:
    """What names the input: a keyed hash of the whole URL, or the file's absolute path (however spelled).

    Redaction is for what is written down, never for identity: two URLs differing only in a
    token are two inputs. The key makes the hash useless for guessing a URL's secrets offline.
    """
    from clipforge.redact import is_url

    if is_url(raw):
        return _RESUMED.get(raw) or url_identity(raw)
    return str(Path(raw).expanduser().resolve())


def url_identity(url: str) -> str:
    return "url:" + hmac.new(folder_key(), url.strip().encode(), hashlib.sha256).hexdigest()[:32]


def input_display(raw: str) -> str:
    """How the input is written down: the URL without credentials and tokens, or the absolute path."""
    from clipforge.redact import is_url, redact_url

    return redact_url(raw) if is_url(raw) else input_identity(raw)


def remember_identity(display: str, identity: str) -> None:
    """A resumed run names its input by `display`; it stands for the saved `identity`."""
    _RESUMED[display] = identity


def source_key(raw: str) -> str:
    """A stable short name for the source's copy in temp_processing/, from its identity."""
    return hashlib.sha256(input_identity(raw).encode()).hexdigest()[:12]


def llm_configured() -> bool:
    return bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))


def llm_endpoint_identity() -> str:
    from clipforge.redact import redact_url

    return redact_url(os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1")


def pyproject_defaults(path: str = "pyproject.toml") -> dict:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}
    return dict(_parsed_defaults(os.path.abspath(path), st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=8)
def _parsed_defaults(path: str, mtime_ns: int, size: int) -> dict:
    """[tool.clipforge] of one version of the file: a run reads the options several times, and a
    no-op run should not parse the same TOML each time (the key changes when the file does)."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f).get("tool", {}).get("clipforge", {})
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as err:
        raise OptionError(f"cannot read [tool.clipforge] in {path}: {err}") from None


def _coerce(name: str, raw) -> object:
    kind = _FIELDS[name].type
    try:
        if kind == "int":
            value = int(str(raw))
        elif kind == "float":
            value = float(str(raw))
        else:
            value = str(raw).strip()
    except ValueError:
        raise OptionError(f"option {name}={raw!r} is not a {'number' if kind != 'str' else 'string'}") from None
    if kind == "float" and not math.isfinite(value) and not (value == math.inf and name in UNLIMITED_OK):
        allowed = " (or inf for no limit)" if name in UNLIMITED_OK else ""
        raise OptionError(f"option {name}={raw!r} must be a finite number{allowed}")
    if name in CHOICES and value not in CHOICES[name]:
        raise OptionError(f"option {name}={value!r} is not one of {', '.join(CHOICES[name])}")
    return value


def _check(opts: Options) -> None:
    if not opts.input:
        raise OptionError("option input= is empty")
    if opts.clips < 1:
        raise OptionError(f"option clips={opts.clips} must be at least 1")
    if not 0 < opts.min_len < opts.max_len:
        raise OptionError(f"options min_len={opts.min_len} and max_len={opts.max_len} need 0 < min_len < max_len")
    if not 0 <= opts.padding <= 2:
        raise OptionError(f"option padding={opts.padding} must be between 0 and 2 seconds")
    if not opts.chunk_minutes >= MIN_CHUNK_MINUTES:
        raise OptionError(f"option chunk_minutes={opts.chunk_minutes} must be at least {MIN_CHUNK_MINUTES} "
                          "(or inf for one chunk)")
    if not 0 <= opts.whisper_batch <= 256:
        raise OptionError(f"option whisper_batch={opts.whisper_batch} must be 0 (auto) to 256")
    if opts.llm_timeout <= 0 or opts.llm_retries < 0:
        raise OptionError("llm_timeout must be > 0 and llm_retries >= 0")
    if not 1 <= opts.caption_words <= 4 or opts.caption_chars < 8:
        raise OptionError("caption_words must be 1-4 and caption_chars at least 8")
    if not 64 <= opts.height <= 4320:
        raise OptionError(f"option height={opts.height} must be between 64 and 4320 pixels")
    if opts.broll_max < 0 or opts.broll_max_len <= 0 or opts.broll_protect < 0 or not 0 <= opts.broll_share <= 1:
        raise OptionError("broll_max >= 0, broll_max_len > 0, broll_protect >= 0 and 0 <= broll_share <= 1")
    if opts.loudness != "off" and loudness_target(opts.loudness) is None:
        raise OptionError(f"option loudness={opts.loudness!r} must be a target in LUFS between -40 and -5 "
                          "(e.g. -14, -16, -23) or off")
    if not -9 <= opts.true_peak <= 0:
        raise OptionError(f"option true_peak={opts.true_peak} must be between -9 and 0 dBTP")
    if opts.audio_track < -1:
        raise OptionError(f"option audio_track={opts.audio_track} must be -1 (the first track with speech) "
                          "or a track number 0, 1, ...")
    from clipforge.whisper_models import check_language

    check_language(opts.resolved_whisper_model(), language=opts.language, asked=opts.whisper_model)
    if not 0.1 <= opts.tighten_pause <= 5 or not 0 <= opts.tighten_breath < opts.tighten_pause:
        raise OptionError("tighten_pause must be 0.1-5 s and 0 <= tighten_breath < tighten_pause")
    if opts.platform in PLATFORMS and opts.max_len > PLATFORMS[opts.platform].max_len:
        raise OptionError(f"max_len={opts.max_len:g} is longer than {opts.platform} takes "
                          f"({PLATFORMS[opts.platform].max_len:g} s): lower max_len=")
    _check_caption_style(opts.caption_style)
    if opts.segmenter == "llm" and not llm_configured():
        raise OptionError("segmenter=llm needs OPENAI_BASE_URL and/or OPENAI_API_KEY in the environment")


def loudness_target(raw: str) -> float | None:
    """The LUFS target of loudness=, or None for "off" or a value that is not a usable target."""
    try:
        value = float(str(raw).strip().lower().removesuffix("lufs"))
    except ValueError:
        return None
    return value if -40 <= value <= -5 else None
CAPTION_STYLES = ("bold", "boxed", "pop", "lower")


def _check_caption_style(style: str) -> None:
    if style in CAPTION_STYLES:
        return
    if not style.endswith(".ass"):
        raise OptionError(f"option caption_style={style!r} is not one of {', '.join(CAPTION_STYLES)} "
                          "or a path to an .ass style file")
    if not Path(style).expanduser().is_file():
        raise OptionError(f"caption_style={style!r}: no such file (give the path of an .ass file with a style)")


def _with_preset(values: dict[str, object]) -> dict[str, object]:
    """A platform preset fills in the options the user did not set (both sources count as set).

    Options the preset names that this build does not have (the audio chain's `loudness`) are
    left out: the preset's figure is in clipforge.platforms for when they come.
    """
    preset = preset_options(str(values.get("platform", DEFAULTS.platform)))
    return {**{k: _coerce(k, v) for k, v in preset.items() if k in _FIELDS and k not in values}, **values}


def load_options(cmdline: dict[str, str] | None = None, pyproject: str = "pyproject.toml") -> Options:
    """Merge defaults, pyproject and command-line variables; raise OptionError on anything unknown."""
    values: dict[str, object] = {}
    sources = (("pyproject.toml [tool.clipforge]", pyproject_defaults(pyproject)), ("command line", cmdline or {}))
    for source, data in sources:
        for name, raw in data.items():
            if name in _IGNORED_VARS:
                continue
            if name not in _FIELDS:
                known = ", ".join(sorted(_FIELDS))
                raise OptionError(f"unknown option {name!r} on the {source}; known options: {known}")
            values[name] = _coerce(name, raw)
    opts = Options(**_with_preset(values))
    _check(opts)
    return opts


def cmdline_vars() -> dict[str, str]:
    """The `doit key=value` variables of this run (empty outside doit)."""
    from doit import doit_cmd

    return dict(doit_cmd._CMDLINE_VARS or {})
