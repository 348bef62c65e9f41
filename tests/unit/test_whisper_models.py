"""Which model `whisper_model=` means, offline, and the language checks that come with it."""

import pytest

from clipforge import whisper_models as wm
from clipforge.config import load_options
from clipforge.errors import ClipforgeError, ErrorCode, OptionError


def test_named_models(monkeypatch):
    assert wm.resolve("bundled", device="cpu", language="en") == "tiny.en"
    assert wm.resolve("/models/large", device="cpu", language="en") == "/models/large"


@pytest.mark.parametrize("cores,device,language,installed,expected", [
    (2, "cpu", "en", True, "tiny.en"),
    (8, "cpu", "en", True, "base"),
    (2, "cuda", "en", True, "base"),
    (2, "cpu", "de", True, "base"),  # tiny.en hears only English
    (2, "cpu", "", True, "base"),  # detecting a language needs a multilingual model
    (16, "cpu", "en", False, "tiny.en"),  # base not installed: the bundled model, never a download
])
def test_auto_picks_by_machine_and_language(monkeypatch, cores, device, language, installed, expected):
    monkeypatch.setattr(wm.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(wm, "base_installed", lambda: installed)
    assert wm.resolve("auto", device=device, language=language) == expected


def test_another_language_with_an_english_only_model_is_a_bad_option(monkeypatch):
    monkeypatch.setattr(wm, "base_installed", lambda: False)
    with pytest.raises(OptionError) as err:
        load_options({"language": "de", "whisper_model": "bundled"}, pyproject="/nonexistent")
    assert err.value.code is ErrorCode.BAD_OPTION
    assert "whisper_model=base" in err.value.one_line() and "pip install" in err.value.one_line()
    with pytest.raises(ClipforgeError):
        load_options({"language": "", "whisper_model": "bundled"}, pyproject="/nonexistent")
    load_options({"language": "en", "whisper_model": "bundled"}, pyproject="/nonexistent")


def test_base_without_its_packages_fails_with_the_pip_command(monkeypatch):
    monkeypatch.setattr(wm, "base_installed", lambda: False)
    with pytest.raises(ClipforgeError) as err:
        wm.model_path("base")
    assert err.value.code is ErrorCode.MODEL_LOAD_FAILED and "pip install" in err.value.one_line()


@pytest.mark.skipif(not wm.base_installed(), reason="needs pip install -e '.[base]'")
def test_base_is_joined_once_and_a_damaged_join_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("CLIPFORGE_CACHE", str(tmp_path))
    folder = wm.base_folder()
    assert {p.name for p in folder.iterdir()} >= {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert wm.base_folder() == folder and (folder / "model.bin").stat().st_mtime_ns == mtime  # not joined again
    monkeypatch.setattr(wm, "BASE_SHA256", "0" * 64)
    (folder / "verified").unlink()
    with pytest.raises(ClipforgeError) as err:
        wm.base_folder()
    assert err.value.code is ErrorCode.MODEL_LOAD_FAILED and "sha256" in err.value.one_line()
