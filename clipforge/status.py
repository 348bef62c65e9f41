"""`doit status`: the saved run at a glance, read from the state file alone."""

from __future__ import annotations

from clipforge import stagelist
from clipforge.errors import ErrorCode
from clipforge.state import CURRENT


def _stages(st) -> tuple[list[str], set[str]]:
    """The stage table's rows: every declared stage, in pipeline order."""
    names = [s.name for s in stagelist.STAGES]
    # A stage a project's own dodo.py added (stagelist.insert) is known here only from the state file.
    added = [k for k in {**st.completed_segments, **st.segment_queue} if k not in names]
    last = stagelist.per_clip_stages()[-1].name
    names[names.index(last):names.index(last)] = added
    return names, {s.name for s in stagelist.unit_stages()} | set(added)


def _ids(units: list[dict]) -> str:
    return " ".join(f"{u['id']}" + (f" ({u['start']:.1f}-{u['end']:.1f} s)" if u.get("start") is not None else "")
                    for u in units)


def _stage_row(st, stage: str, unit_stages: set[str]) -> tuple[str, str]:
    fp = st.failure_point or {}
    if stage in unit_stages:
        done = st.completed_segments.get(stage, [])
        queue = st.segment_queue.get(stage, [])
        detail = f"{len(done)} done, {len(queue)} pending"
        if fp.get("stage") == stage:
            return "failed", detail + f" (failed: {fp.get('segment')})"
        if done and not queue:
            return "done", detail
        return "pending", detail if (done or queue) else ""
    if fp.get("stage") == stage:
        return "failed", fp["code"]
    return ("done", "") if stage in st.tasks else ("pending", "")


def show() -> int:
    st = CURRENT.state
    if st is None:
        print("clipforge: no run in progress (no .temp_clips.json); `doit` starts one")
        return 0
    print(f"input:    {st.input_source}")
    print(f"started:  {st.started_at}   updated: {st.updated_at}")
    print(f"{'stage':<12}{'status':<9}detail")
    stages, unit_stages = _stages(st)
    rows = [(s, *_stage_row(st, s, unit_stages)) for s in stages]
    for stage, status, detail in rows:
        print(f"{stage:<12}{status:<9}{detail}")
    for stage in [s for s in stages if s in unit_stages]:
        if st.segment_queue.get(stage):
            print(f"{stage} pending: {_ids(st.segment_queue[stage])}")
    fp = st.failure_point
    if fp:
        code = ErrorCode[fp["code"]] if fp["code"] in ErrorCode.__members__ else ErrorCode.INTERNAL
        last = st.error_log[-1]["message"] if st.error_log else ""
        where = fp["stage"] + (f":{fp['segment']}" if fp.get("segment") else "")
        print(f"failure:  {where} {fp['code']} (exit {code.exit_status}): {last}")
        print(f"hint:     {code.hint}" + ("" if code.retryable else "  (retrying alone will not help)"))
    todo = [s for s, status, _ in rows if status != "done"]
    print("next:     `doit --retry` would run " + (", ".join(todo) if todo else "nothing (render is done)"))
    return 0
