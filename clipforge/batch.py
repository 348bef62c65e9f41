"""`doit batch`: many videos, each in its own workspace, spread over a Dask cluster.

Dask does the scheduling, the worker processes and the re-runs after a worker dies
(`allowed-failures`); this module only decides what to run, bounds how much is in flight,
keeps batch/batch.json and batch/manifest.json, and says what is going on.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from clipforge import batchrecord as rec
from clipforge.batchlist import BATCH_DIR, Video, read_list
from clipforge.batchrun import MARKER, Job
from clipforge.config import load_options
from clipforge.errors import ClipforgeError, ErrorCode, OptionError
from clipforge.fsutil import read_json, write_json

MANIFEST = BATCH_DIR / "manifest.json"
# The batch's own options; every other key=value is a pipeline option applied to each video.
BATCH_KEYS = ("list", "workers", "threads", "scheduler", "retry")
HEARTBEAT_S = 10.0


@dataclass(frozen=True, kw_only=True)
class BatchOptions:
    list: str | None
    workers: int | None
    threads: int | None  # per video; None: each worker machine's cores shared among its workers
    scheduler: str | None
    retry: bool
    options: dict[str, str]


def say(msg: str) -> None:
    print(f"batch: {msg}", flush=True)


def parse(variables: dict[str, str], *, retry_flag: bool) -> BatchOptions:
    opts = {k: v for k, v in variables.items() if k not in BATCH_KEYS}
    if "input" in opts:
        raise OptionError("doit batch takes list=FILE_OR_DIR, not input=", hint="put the inputs in a list file")
    load_options({**opts, "input": "batch"})  # unknown options and bad values stop before any video runs
    workers, threads = _count(variables, "workers"), _count(variables, "threads")
    retry = variables.get("retry", "no")
    if retry not in ("yes", "no"):
        raise OptionError(f"option retry={retry!r} is not one of yes, no")
    return BatchOptions(list=variables.get("list") or None, workers=workers, threads=threads,
                        scheduler=variables.get("scheduler") or None, retry=retry_flag or retry == "yes",
                        options=opts)


def _count(variables: dict[str, str], key: str) -> int | None:
    raw = variables.get(key)
    try:
        value = int(raw) if raw else None
    except ValueError:
        raise OptionError(f"option {key}={raw!r} is not a number") from None
    if value is not None and value < 1:
        raise OptionError(f"option {key}={value} must be at least 1")
    return value


def _videos(bopts: BatchOptions, record: dict) -> list[Video]:
    """The list's videos, or (retry without list=) the record's unfinished ones."""
    if bopts.list:
        record["list"] = str(Path(bopts.list).expanduser().resolve())
        return read_list(bopts.list)
    if not bopts.retry:
        raise OptionError("doit batch needs list=FILE_OR_DIR", hint="pass list=videos.txt or list=DIR, "
                          "or `doit batch --retry` to finish the last batch")
    if not record["videos"]:
        raise OptionError("no batch to retry (no batch/batch.json)", hint="start one with `doit batch list=...`")
    # A URL's secrets are never saved: take the inputs from the list again when it is still there.
    listed = {}
    if record.get("list") and Path(record["list"]).exists():
        listed = {v.workspace: v for v in read_list(record["list"])}
    return [listed.get(v["workspace"]) or Video(raw=v["input"], display=v["input"], workspace=v["workspace"])
            for v in rec.unfinished(record)]


def _prepare(v: Video) -> None:
    """The workspace: a project folder of its own (dodo.py and pyproject.toml, refreshed each run)."""
    v.path.mkdir(parents=True, exist_ok=True)
    for name in ("dodo.py", "pyproject.toml"):
        tmp = v.path / f".{name}.{os.getpid()}.part"
        shutil.copyfile(name, tmp)
        os.replace(tmp, v.path / name)


def _client(bopts: BatchOptions, count: int):
    """A Client on the given scheduler, or on a LocalCluster of one-thread worker processes."""
    import dask
    from distributed import Client, LocalCluster

    if bopts.scheduler:
        try:
            client = Client(bopts.scheduler, timeout="10s")
        except (OSError, TimeoutError) as err:  # refused, unresolvable or silent: say which address
            raise ClipforgeError(f"cannot reach the Dask scheduler at {bopts.scheduler} ({err.__class__.__name__})",
                                 code=ErrorCode.CLUSTER_UNREACHABLE) from None
        workers = bopts.workers or max(1, len(client.scheduler_info()["workers"]))
        return client, None, workers
    cores = os.cpu_count() or 1
    workers = bopts.workers or max(1, min(count, cores // 2 or 1))
    dashboard = ":0" if _has_dashboard() else None
    # A worker that dies mid-video is replaced and the video re-run (3 times, Dask's default).
    with dask.config.set({"distributed.scheduler.allowed-failures": 3}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=dashboard, silence_logs=40)
    return Client(cluster), cluster, workers


def _has_dashboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


def _threads(client, workers: int) -> int:
    """Each video's share of a worker machine's cores, so that workers do not oversubscribe them."""
    try:
        info = client.scheduler_info()["workers"]
        per_host: dict[str, int] = {}
        for w in info.values():
            per_host[w["host"]] = per_host.get(w["host"], 0) + 1
        cpus = client.run(os.cpu_count)
        shares = [max(1, (cpus.get(addr) or 1) // per_host[w["host"]]) for addr, w in info.items()]
        return min(shares) if shares else 1
    except Exception:  # a scheduler that answers none of this: one thread each is always safe
        return max(1, (os.cpu_count() or 1) // workers)


def _stage(ws: Path) -> str | None:
    """What the video is doing, from its own state file (None before it has one, and after success)."""
    try:
        st = read_json(ws / ".temp_clips.json")
    except (OSError, ValueError):
        return None
    for stage, queue in (st.get("segment_queue") or {}).items():
        done = len((st.get("completed_segments") or {}).get(stage, []))
        if queue:
            return f"{stage} {done}/{done + len(queue)}"
    return f"after {st['current_stage']}" if st.get("current_stage") else "starting"


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def write_manifest(record: dict) -> int:
    """batch/manifest.json: every clip of every finished video, best score first."""
    clips = []
    for v in record["videos"].values():
        if v["status"] != rec.DONE:
            continue
        folder = BATCH_DIR / v["workspace"] / "clips"
        try:
            manifest = read_json(folder / "manifest.json")
        except (OSError, ValueError):
            continue
        for c in manifest.get("clips", []):
            clips.append({"input": v["input"], "workspace": v["workspace"], "file": str(folder / c["file"]),
                          "start": c.get("start"), "end": c.get("end"), "duration": c.get("duration"),
                          "title": c.get("title"), "score": c.get("score"), "text": c.get("text"),
                          "sha256": c.get("sha256")})
    clips.sort(key=lambda c: -(c["score"] or 0))
    write_json(MANIFEST, {"tool": "clipforge", "created_at": rec.now(),
                          "videos": sum(v["status"] == rec.DONE for v in record["videos"].values()),
                          "clips": clips})
    return len(clips)


class _Progress:
    """Lines a person can follow: videos done/total, each video's stage, failures, elapsed and time left."""

    def __init__(self, total: int, workers: int):
        self.total, self.workers, self.began = total, workers, time.monotonic()
        self.done = self.failed = 0
        self.seen: dict[str, tuple] = {}
        self.base: dict[str, int] = {}
        self.beat = self.began

    def head(self) -> str:
        elapsed = time.monotonic() - self.began
        finished = self.done + self.failed
        left = f", ~{_clock(elapsed / finished * (self.total - finished))} left" if finished else ""
        return f"[{self.done}/{self.total} done, {self.failed} failed, {_clock(elapsed)} elapsed{left}]"

    def finished(self, v: Video, row: dict) -> None:
        if row["status"] == rec.DONE:
            self.done += 1
            say(f"{self.head()} {v.workspace}: done, {row['clips']} clip(s) in {row['elapsed']:.0f} s")
        else:
            self.failed += 1
            say(f"{self.head()} {v.workspace}: FAILED {row['code']} (exit {row['exit']}): {row['message']}")

    def submitted(self, v: Video) -> None:
        """Remember the attempt the workspace had before this submission: a higher one is this batch's."""
        try:
            self.base[v.workspace] = int(read_json(v.path / MARKER).get("attempt", 0))
        except (OSError, ValueError, AttributeError):
            self.base[v.workspace] = 0

    def poll(self, inflight: dict[str, Video], record: dict) -> bool:
        """Print what changed in the running videos; True when the record changed."""
        changed = False
        for v in inflight.values():
            try:
                marker = read_json(v.path / MARKER)
            except (OSError, ValueError):
                continue
            attempt = int(marker.get("attempt", 0))
            if attempt <= self.base.get(v.workspace, 0) or marker.get("finished"):
                continue  # not started yet (the marker is an earlier run's), or finished
            stage, last = _stage(v.path), self.seen.get(v.workspace)
            if stage is None or last == (attempt, stage):
                continue
            if last and attempt > last[0]:
                say(f"{v.workspace}: re-run (attempt {attempt - self.base[v.workspace]}) after its worker was "
                    "lost; its finished steps are kept")
            self.seen[v.workspace] = (attempt, stage)
            record["videos"][v.workspace].update(status=rec.RUNNING, stage=stage)
            say(f"{v.workspace}: {stage}")
            changed = True
        if time.monotonic() - self.beat >= HEARTBEAT_S:
            self.beat = time.monotonic()
            running = ", ".join(f"{v.workspace} ({record['videos'][v.workspace]['stage'] or 'queued'})"
                                for v in inflight.values())
            say(f"{self.head()} running: {running or 'nothing'}")
        return changed


def _row_from(result: dict, row: dict) -> None:
    row.update(attempts=result["attempt"], elapsed=result["elapsed"], finished_at=rec.now(), clips=result["clips"],
               exit=result["rc"], code=result["code"], message=result["message"],
               status=rec.DONE if result["rc"] == 0 else rec.FAILED, stage=None if result["rc"] == 0 else row["stage"])


def _row_lost(exc: BaseException, row: dict) -> None:
    """The task itself failed (its worker died too often, or the cluster went away)."""
    from distributed import KilledWorker

    code = ErrorCode.INTERRUPTED if isinstance(exc, KilledWorker) else ErrorCode.INTERNAL
    why = "its worker died on every attempt" if isinstance(exc, KilledWorker) else f"{type(exc).__name__}: {exc}"
    row.update(status=rec.FAILED, code=code.name, exit=code.exit_status, message=why[:300], finished_at=rec.now())


def run(bopts: BatchOptions) -> int:
    from clipforge.lock import RunLock

    BATCH_DIR.mkdir(exist_ok=True)
    # One driver per batch folder: two would overwrite each other's batch.json.
    with RunLock(BATCH_DIR / ".batch.lock"):
        return _run(bopts)


def _run(bopts: BatchOptions) -> int:
    from distributed import as_completed

    record = rec.load()
    videos = _videos(bopts, record)
    todo = []
    for v in videos:
        row = rec.entry(record, v.workspace, display=v.display)
        options = {**row["options"], **bopts.options} if bopts.retry and not bopts.list else dict(bopts.options)
        if row["status"] == rec.DONE and row["options"] == options:
            continue
        row.update(status=rec.PENDING, options=options, input=v.display)
        todo.append(v)
    if not todo:
        rec.save(record)
        write_manifest(record)
        say(f"nothing to do: {len(videos)} video(s) already done; clips in {MANIFEST}")
        return 0
    for v in todo:
        _prepare(v)
    rec.save(record)
    client, cluster, workers = _client(bopts, len(todo))
    try:
        threads = bopts.threads or _threads(client, workers)
        where = bopts.scheduler or f"a local cluster of {workers} worker process(es)"
        say(f"{len(todo)} video(s) on {where}, {threads} thread(s) per video")
        if client.dashboard_link and (bopts.scheduler or _has_dashboard()):
            say(f"Dask dashboard: {client.dashboard_link}")
        return _drive(client, record, todo, workers=workers, threads=threads, as_completed=as_completed)
    except KeyboardInterrupt:
        rec.save(record)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _drive(client, record: dict, todo: list[Video], *, workers: int, threads: int, as_completed) -> int:
    from clipforge.batchrun import run_video

    queue = iter(todo)
    inflight: dict[str, Video] = {}
    progress = _Progress(len(todo), workers)
    futures = as_completed()

    def submit() -> None:
        v = next(queue, None)
        if v is None:
            return
        row = record["videos"][v.workspace]
        row["status"] = rec.PENDING
        opts = tuple(f"{k}={val}" for k, val in row["options"].items())
        job = Job(workspace=str(v.path.resolve()), input=v.raw, options=opts, threads=threads)
        row["threads"] = threads
        fut = client.submit(run_video, job, key=f"clipforge-{v.workspace}-{uuid.uuid4().hex[:8]}", pure=False)
        progress.submitted(v)
        inflight[fut.key] = v
        futures.add(fut)

    # Backpressure: at most one video beyond the workers is in flight (downloads and disk follow).
    for _ in range(workers + 1):
        submit()
    while not futures.is_empty():
        batch = futures.next_batch(block=False) if futures.has_ready() else []
        for fut in batch:
            v = inflight.pop(fut.key)
            row = record["videos"][v.workspace]
            if fut.status == "finished":
                _row_from(fut.result(), row)
            else:
                _row_lost(fut.exception(), row)
            rec.save(record)
            if row["status"] == rec.DONE:
                write_manifest(record)
            progress.finished(v, row)
            submit()
        if not batch:
            if progress.poll(inflight, record):
                rec.save(record)
            time.sleep(0.2)
    count = write_manifest(record)
    failed = [v for v in record["videos"].values() if v["status"] == rec.FAILED]
    say(f"{progress.head()} finished: {count} clip(s) of {len(record['videos']) - len(failed)} video(s) "
        f"in {MANIFEST}" + (f"; {len(failed)} failed: `doit batch status`, then `doit batch --retry`"
                            if failed else ""))
    return 1 if failed else 0


def status() -> int:
    print(rec.table(rec.load()))
    return 0


def main(variables: dict[str, str], args: list[str], *, retry_flag: bool) -> int:
    """`doit batch [status] [--retry] key=value...`."""
    if args == ["status"]:
        return status()
    if args:
        raise ClipforgeError(f"doit batch: unknown argument {args[0]!r}", code=ErrorCode.BAD_OPTION,
                             hint="doit batch list=FILE_OR_DIR [key=value...], doit batch --retry, doit batch status")
    if not Path("dodo.py").exists() or not Path("pyproject.toml").exists():
        raise OptionError("doit batch runs in a clipforge project folder (dodo.py and pyproject.toml)",
                          hint=f"cd to the project folder; {os.getcwd()} is not one")
    sys.stdout.flush()
    return run(parse(variables, retry_flag=retry_flag))
