"""The review page builder (no browser, no subprocess), its place in the finished-run check,
the per-stage timings in the state file, and the progress lines."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from clipforge.fsutil import sha256_file
from clipforge.progress import Overall, Progress
from clipforge.stages.review import CSP, build_page
from clipforge.state.finished import outputs_current

HOSTILE = "<img src=x onerror=alert(1)>"


def _manifest(**first) -> dict:
    clips = [
        {"id": "seg001", "start": 10.0, "end": 30.0, "duration": 20.0, "title": "Low", "reason": "r1", "score": 40,
         "text": "one", "flags": [], "file": "01-low.mp4", "captions": ["01-low.srt", "01-low.vtt"],
         "poster": "01-low.jpg"},
        {"id": "seg002", "start": 50.0, "end": 75.0, "duration": 25.0, "title": "High", "reason": "r2", "score": 90,
         "text": "two", "flags": ["extended"], "file": "02-high.mp4", "captions": [], "poster": None},
    ]
    clips[0].update(first)
    return {"input": {"source": "/x/talk.mp4", "duration": 100.0}, "segmenter": "offline",
            "models": {"whisper": "bundled", "llm": None}, "llm_usage": {"prompt_tokens": 12, "completion_tokens": 3},
            "clips": clips}


def test_hostile_strings_are_escaped_and_the_page_has_no_script():
    html = build_page(_manifest(title=HOSTILE, reason="<script>alert(2)</script>", text="a</div>b",
                                file='"><svg onload=alert(1)>.mp4', flags=["<i>x</i>"]))
    assert HOSTILE not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html.lower() and "<svg" not in html and "<i>x" not in html
    assert "a&lt;/div&gt;b" in html
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in html
    assert "default-src 'none'" in CSP and "script-src" not in CSP


def test_no_url_leaves_the_folder():
    html = build_page(_manifest(file="https://evil.example/x.mp4", poster="//evil.example/p.jpg"))
    assert not re.search(r'(src|href|poster)="[a-z]+:', html.replace('src="data:text/vtt', 'src="'))
    assert "evil.example" not in re.sub(r"<(h3|title)>.*?</\1>", "", html)
    assert 'src="x.mp4"' in html and 'poster="p.jpg"' in html


def test_cards_best_score_first_with_timeline_marks_in_percent():
    html = build_page(_manifest(), {"transcribe": 3.25, "render": 0.5})
    assert html.index("02-high.mp4") < html.index("01-low.mp4")
    assert 'style="left:50.000%;width:25.000%"' in html and 'style="left:10.000%;width:20.000%"' in html
    assert html.count('<section class="card"') == 2
    assert html.count('<video controls preload="metadata"') == 2
    assert 'poster="01-low.jpg"' in html and "<track" in html and 'data-file="01-low.vtt"' in html
    assert "download=\"02-high.mp4\"" in html and "extended" in html
    assert "transcribe" in html and "3.2 s" in html and "prompt_tokens" in html


def test_the_caption_track_inlines_the_sidecar(tmp_path):
    (tmp_path / "01-low.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n")
    html = build_page(_manifest(), folder=tmp_path)
    assert 'src="data:text/vtt;base64,V0VCVlRU' in html


def _finished(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    entries = {}
    for name in ("01-a.mp4", "01-a.jpg", "index.html"):
        (clips / name).write_bytes(name.encode())
        entries[name] = {"file": name, "sha256": sha256_file(clips / name), "size": (clips / name).stat().st_size}
    manifest = {"run_key": "k", "clips": [{**entries["01-a.mp4"], "sidecars": [entries["01-a.jpg"]]}],
                "page": entries["index.html"]}
    (clips / "manifest.json").write_text(json.dumps(manifest))


def test_a_deleted_or_edited_page_or_poster_is_not_current(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _finished(tmp_path)
    assert outputs_current("k")
    (tmp_path / "clips" / "index.html").write_text("edited.")
    assert not outputs_current("k")
    (tmp_path / "clips" / "index.html").unlink()
    assert not outputs_current("k")


def test_a_manifest_without_a_page_is_not_current(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _finished(tmp_path)
    m = json.loads((tmp_path / "clips" / "manifest.json").read_text())
    del m["page"]
    (tmp_path / "clips" / "manifest.json").write_text(json.dumps(m))
    assert not outputs_current("k")


def test_stage_seconds_are_recorded_and_valid(tmp_path):
    from clipforge.state.checkpoint import Checkpoint
    from clipforge.state.store import load_state_file

    cp = Checkpoint(tmp_path / "state.json")
    cp.ensure("in.mp4", "h")
    cp.record_task("transcribe:chunk000", "h", targets=[], inputs=[], seconds=2.5)
    cp.record_task("transcribe:chunk001", "h", targets=[], inputs=[], seconds=1.25)
    cp.record_task("segment", "h", targets=[], inputs=[])
    cp.save()
    assert load_state_file(tmp_path / "state.json").tasks["transcribe:chunk000"]["seconds"] == 2.5  # schema-valid
    assert cp.stage_seconds() == {"transcribe": 3.75}


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_overall_line_on_a_terminal():
    stream = _Tty()
    overall = Overall(stream)
    overall.show(index=3, count=10, stage="transcribe", done=2, total=5)
    line = overall.line()
    assert "stage 3/10 transcribe" in line and "2/5 done" in line and "elapsed" in line and "left" in line
    assert "stage 3/10" in stream.getvalue()
    overall.close()


def test_quiet_when_not_a_terminal():
    stream = io.StringIO()
    overall = Overall(stream)
    overall.show(index=1, count=10, stage="download", done=0, total=1)
    assert stream.getvalue() == "" and overall.line() == ""
    bar = Progress("transcribe chunk000", 30.0, unit="s audio", stream=stream)
    for t in (5.0, 12.0, 29.0):
        bar.update(t)
    assert stream.getvalue() == ""
    bar.close()
    assert re.fullmatch(r"  transcribe chunk000: 30\.0 s audio in \d+\.\d s\n", stream.getvalue())


def test_the_unit_bar_draws_on_a_terminal():
    stream = _Tty()
    bar = Progress("download", 0.0, unit="MB", stream=stream)  # size unknown
    bar.update(3.0, force=True)
    bar.close()
    assert "download" in stream.getvalue()


def test_inside_a_doit_action_the_line_goes_to_the_real_terminal():
    from doit.action import Writer

    terminal, captured = _Tty(), io.StringIO()
    writer = Writer()
    writer.add_writer(captured)
    writer.add_writer(terminal, is_original=True)
    overall = Overall(writer)
    overall.show(index=10, count=10, stage="render", done=0, total=1)
    overall.close()
    assert "stage 10/10 render" in terminal.getvalue() and captured.getvalue() == ""


def test_each_card_says_platform_style_hook_and_what_tightening_removed():
    html = build_page(_manifest(platform="tiktok", caption_style="pop", hook="title",
                                tightened={"enabled": True, "removed_seconds": 2.25, "removed_share": 0.0717,
                                           "cuts": 7, "fillers_found": ["um@1.30"]}))
    card = html[html.index('data-clip="seg001"'):]
    assert "platform: tiktok" in card and "captions: pop" in card and "hook: title" in card
    assert "tightened: 2.2 s removed (7 %) in 7 cut(s), 1 filler(s) heard" in card
    # an old manifest without these fields still renders, and a hostile style name is escaped
    assert "platform: none" in build_page(_manifest())
    assert HOSTILE not in build_page(_manifest(caption_style=HOSTILE))
