"""The batch's list format and workspace names (no Dask, no subprocess)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clipforge.batch import parse
from clipforge.batchlist import read_list, workspace_name
from clipforge.batchrecord import entry, table
from clipforge.batchrun import ERROR_LINE
from clipforge.errors import ErrorCode, OptionError


@pytest.fixture(autouse=True)
def _cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the URL key (.clipforge-key) is made here


def test_list_file_comments_blank_lines_relative_paths_and_duplicates(tmp_path):
    (tmp_path / "l").mkdir()
    lst = tmp_path / "l" / "videos.txt"
    lst.write_text("# catalogue\n\na talk.mp4\n  sub/b.mp4  \n# c.mp4\nhttps://h/v.mp4?token=s3cretvalue\na talk.mp4\n")
    videos = read_list(str(lst))
    assert [v.raw for v in videos] == [str(tmp_path / "l" / "a talk.mp4"), str(tmp_path / "l" / "sub" / "b.mp4"),
                                       "https://h/v.mp4?token=s3cretvalue"]
    assert "s3cretvalue" not in videos[2].display and "s3cretvalue" not in videos[2].workspace


def test_list_dir_takes_media_files_only(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    for name in ("a.mp4", "b.WAV", "notes.txt", "c.mkv"):
        (d / name).write_text("x")
    assert [Path(v.raw).name for v in read_list(str(d))] == ["a.mp4", "b.WAV", "c.mkv"]


def test_workspaces_differ_for_inputs_that_look_alike(tmp_path):
    names = {workspace_name(str(tmp_path / "a" / "talk.mp4")), workspace_name(str(tmp_path / "b" / "talk.mp4")),
             workspace_name("https://h/get.mp4?file=a"), workspace_name("https://h/get.mp4?file=b")}
    assert len(names) == 4 and all(n.startswith(("talk-", "get-")) for n in names)


def test_options_are_checked_before_anything_runs():
    parsed = parse({"list": "v.txt", "clips": "2", "workers": "3", "threads": "1"}, retry_flag=False)
    assert parsed.options == {"clips": "2"} and (parsed.workers, parsed.threads) == (3, 1)
    assert parse({"list": "v.txt"}, retry_flag=False).threads is None  # the machine decides
    for bad in ({"list": "v.txt", "input": "x.mp4"}, {"list": "v.txt", "clips": "0"}, {"workers": "many"},
                {"threads": "0"}, {"threads": "two"}, {"nosuch": "1"}, {"retry": "maybe"}):
        with pytest.raises(OptionError):
            parse(bad, retry_flag=False)
    with pytest.raises(OptionError):
        read_list("missing.txt")


def test_error_line_and_status_table():
    m = ERROR_LINE.search("noise\nclipforge: error NOT_MEDIA (11): input x is not media -- pass a video\n")
    assert (m["code"], m["exit"]) == ("NOT_MEDIA", "11") and ErrorCode[m["code"]].exit_status == 11
    record = {"videos": {}}
    row = entry(record, "x-1", display="/x.mp4")
    row.update(status="failed", code="NOT_MEDIA", exit=11, message="not media")
    assert "NOT_MEDIA (exit 11)" in table(record) and "doit batch --retry" in table(record)


def test_a_videos_environment_has_its_thread_share_and_not_dasks_malloc_setting():
    from clipforge.batchrun import THREAD_VARS, video_env

    env = video_env({"PATH": "/bin", "MALLOC_TRIM_THRESHOLD_": "65536", "OMP_NUM_THREADS": "1"}, threads=3)
    assert "MALLOC_TRIM_THRESHOLD_" not in env and env["PATH"] == "/bin"
    assert all(env[k] == "3" for k in THREAD_VARS)
