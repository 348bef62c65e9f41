"""A new per-clip stage is one module plus one Stage record: added in a throwaway project, killed, resumed.

The stage writes a non-mp4 file (`.count.txt`), reads the clip's words (clip-relative, from the
transcript) and an extra input file (a stop-word list), which is checksummed like every input.
"""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT, executed, kill9, make_project, run_ok, wait_for

OPTS = ["clips=2", "min_len=8", "max_len=25", "keep=yes", "captions=off", "reframe=center"]

STAGE_MODULE = '''
"""wordcount: how many words of each clip are not stop words."""
import time
from pathlib import Path

from clipforge.fsutil import atomic_path


def files(options):
    return [str(Path("stopwords.txt").resolve())]


def run(job):
    stop = set(Path(job.extra[0]).read_text().split())
    assert all(0 <= w.start <= w.end <= job.clip.duration + 1e-6 for w in job.words), "words are clip-relative"
    while job.clip.id == "seg002" and not Path("gate").exists():
        time.sleep(0.02)  # the test kills the run here, with seg001 finished and seg002 in flight
    count = sum(1 for w in job.words if w.text.strip(" .,?!").lower() not in stop)
    with atomic_path(job.output(), ".txt") as tmp:
        tmp.write_text(f"{job.clip.id} {count}\\n")
'''

DODO_HEADER = '''from clipforge.stagelist import Stage, insert

insert(Stage(name="wordcount", doc="Count each clip's words that are not stop words.", run="wordcount:run",
             per_clip=True, outputs=(".count.txt",), extra="wordcount:files"), before="extract")
'''


def _project(tmp_path):
    p = make_project(tmp_path / "proj")
    (p.path / "dodo.py").write_text(DODO_HEADER + (ROOT / "dodo.py").read_text())
    (p.path / "wordcount.py").write_text(STAGE_MODULE)
    (p.path / "stopwords.txt").write_text("the a and of to is\n")
    return p


def _counts(p) -> dict[str, int]:
    return {f.stem.split(".")[0]: int(f.read_text().split()[1]) for f in p.temp("wordcount").glob("*.count.txt")}


def test_a_new_per_clip_stage_runs_resumes_after_kill_and_follows_its_extra_input(tmp_path):
    p = _project(tmp_path)
    listed = run_ok(p.doit("list")).stdout
    assert "wordcount" in listed and "Count each clip's words" in listed

    proc = p.popen(*OPTS)
    seg1 = p.temp("wordcount/seg001.count.txt")
    assert wait_for(lambda: seg1.exists() and p.state_file.exists()
                    and "wordcount:seg001" in p.state()["tasks"], proc), proc.stdout.read()
    kill9(p, proc)
    st = p.state()
    assert [u["id"] for u in st["completed_segments"]["wordcount"]] == ["seg001"]
    assert [u["id"] for u in st["segment_queue"]["wordcount"]] == ["seg002"]
    status = run_ok(p.doit("status")).stdout
    assert "wordcount" in status and "seg002" in status

    (p.path / "gate").write_text("")
    out = run_ok(p.doit("--retry")).stdout
    ran = executed(out)
    assert "wordcount:seg001" not in ran and "wordcount:seg002" in ran, out
    counts = _counts(p)
    assert set(counts) == {"seg001", "seg002"} and all(n > 3 for n in counts.values())
    assert len(p.manifest()["clips"]) == 2

    # Editing the extra input re-runs that stage for every clip, and nothing else.
    (p.path / "stopwords.txt").write_text("the a and of to is it that this with\n")
    ran = executed(run_ok(p.doit(*OPTS)).stdout) - {"render"}  # publishing is a copy, allowed to repeat
    assert ran == {"wordcount:seg001", "wordcount:seg002"}, ran
    assert sum(_counts(p).values()) < sum(counts.values())


def test_editing_one_clips_decision_re_renders_that_clip_alone(tmp_path):
    p = make_project(tmp_path / "proj")
    run_ok(p.doit("clips=2", "min_len=8", "max_len=25", "keep=yes"))
    before = {c["id"]: c["sha256"] for c in p.manifest()["clips"]}
    ass = p.temp("subtitles/seg001.ass")
    text = ass.read_text()
    assert "Dialogue:" in text
    ass.write_text(text.replace("&H00E6FF&", "&H0000FF&"))  # highlight in red instead of yellow
    out = run_ok(p.doit("clips=2", "min_len=8", "max_len=25", "keep=yes")).stdout
    ran = executed(out)
    assert ran == {"extract:seg001", "render"}, out  # the other clip, and every decision, stay
    assert "using your edited" in out
    after = {c["id"]: c["sha256"] for c in p.manifest()["clips"]}
    assert after["seg002"] == before["seg002"] and after["seg001"] != before["seg001"]


def test_installed_packages_are_clipforge_only_and_a_local_state_py_changes_nothing(tmp_path):
    code = "import importlib.util as u; print(u.find_spec('state'), u.find_spec('stages'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True).stdout
    assert out.strip() == "None None"
    p = make_project(tmp_path / "proj")
    (p.path / "state.py").write_text("raise SystemExit('the user state.py was imported')\n")
    (p.path / "stages.py").write_text("raise SystemExit('the user stages.py was imported')\n")
    result = run_ok(p.doit("list"))
    assert "imported" not in result.stdout + result.stderr
