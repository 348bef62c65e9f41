"""The editor's Starlette app: the page, its two static files, the clips' media, the status and the edits.

Every request passes `guard` first (clipforge.editor.security); an edit is queued for the one build
worker (clipforge.editor.builds), which applies it through clipforge.editor.decisions.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from clipforge.editor import decisions, overrides, page
from clipforge.editor.builds import Builder, Edit
from clipforge.editor.security import COOKIE, CSRF_HEADER, HEADERS, Guard, inside
from clipforge.fsutil import read_json

STATIC = {"editor.js": "text/javascript; charset=utf-8", "editor.css": "text/css; charset=utf-8"}
MAX_BODY = 16_384


def _refuse(status: int, why: str) -> Response:
    return PlainTextResponse(f"refused: {why}\n", status_code=status, headers=HEADERS)


class GuardMiddleware:
    """Pure ASGI: runs before any route, so no handler can forget a check."""

    def __init__(self, app, *, guard: Guard):
        self.app, self.guard = app, guard

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        g = self.guard
        if not g.host_ok(request.headers.get("host")):
            return await _refuse(421, "unexpected Host header")(scope, receive, send)
        if request.method not in ("GET", "HEAD", "POST"):
            return await _refuse(405, "method not allowed")(scope, receive, send)
        given = request.query_params.get("token")
        if given is not None and request.method == "GET" and request.url.path == "/":
            if not g.token_ok(given):
                return await _refuse(403, "wrong token")(scope, receive, send)
            # The token leaves the address bar (and the history) at once; the cookie carries it from here.
            resp = RedirectResponse("/", status_code=303, headers=HEADERS)
            resp.set_cookie(COOKIE, g.token, httponly=True, samesite="strict", path="/")
            return await resp(scope, receive, send)
        if not g.token_ok(request.cookies.get(COOKIE)):
            return await _refuse(403, "no valid session: open the address `doit edit` printed")(scope, receive, send)
        if request.method == "POST":
            if not g.csrf_ok(request.headers.get(CSRF_HEADER)):
                return await _refuse(403, "missing or wrong CSRF token")(scope, receive, send)
            if not g.origin_ok(request.headers.get("origin")):
                return await _refuse(403, "cross-origin request")(scope, receive, send)
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return await _refuse(415, "an edit is a JSON body")(scope, receive, send)
        return await self.app(scope, receive, send)


def _safe_read(path: str) -> dict:
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _saved_run():
    """The state file as a separate record: CURRENT belongs to the build worker, which may be
    recording an edit in it right now; reloading it here would lose that record."""
    from clipforge.state import load_state_file

    try:
        return load_state_file(warn=lambda msg: None)
    except Exception:  # a damaged state file: shown as not editable, the run reports it
        return None


def _view(root: Path, builder: Builder, guard: Guard) -> str:
    from clipforge.state.finished import MANIFEST

    manifest = _safe_read(str(root / MANIFEST))
    entries = {e.get("id"): e for e in manifest.get("clips", []) if isinstance(e, dict)}
    source = str((manifest.get("input") or {}).get("source", ""))
    st = _saved_run()
    if st is None:
        clips = [e for e in manifest.get("clips", []) if isinstance(e, dict)]
        banner = ("The last run did not keep its decisions, so its clips cannot be edited yet." if clips else
                  "There is no finished run in this folder yet: run `doit keep=yes`, then reload.")
        return page.build(clips=clips, entries=entries, words=[], frames={}, brolls={}, versions={}, assets=[],
                          editable=False,
                          banner=banner, csrf=guard.csrf, source=source, offer_keep=bool(clips) and not builder.busy())
    ctx = decisions.context_of(st)
    segments = _safe_read(ctx.segments)
    clips = segments.get("clips", [])
    words = decisions.word_list(ctx) if clips else []
    chosen = overrides.load(ctx)
    frames = {c["id"]: {**_safe_read(ctx.unit_file("vfx", c["id"], ".reframe.json")),
                        "captions": chosen.get(c["id"], {}).get("captions", {}).get("style", "bold")} for c in clips}
    brolls = {c["id"]: _safe_read(ctx.unit_file("broll", c["id"], ".broll.json")) for c in clips}
    read_only = builder.read_only()
    banner = "A run is in progress in this folder: the editor is read-only until it ends." if read_only else ""
    versions = {c["id"]: decisions.version(c) for c in clips}  # of the clip as segments.json holds it
    approved = set(segments.get("approved", []))
    clips = [{**c, "approved": c["id"] in approved} for c in clips]
    return page.build(clips=clips, entries=entries, words=words, frames=frames, brolls=brolls,
                      assets=[Path(a).name for a in overrides.broll_assets(ctx)],
                      versions=versions, editable=not read_only,
                      banner=banner, csrf=guard.csrf, source=source or st.input_source)


ACTIONS = {
    "title": lambda ctx, b: decisions.set_title(ctx, b["clip"], title=b["title"], seen=b.get("version")),
    "approve": lambda ctx, b: decisions.set_approved(ctx, b["clip"], approved=bool(b["approved"]),
                                                     seen=b.get("version")),
    "drop": lambda ctx, b: decisions.drop_clip(ctx, b["clip"], seen=b.get("version")),
    "trim": lambda ctx, b: decisions.trim(ctx, b["clip"], first=int(b["first"]), last=int(b["last"]),
                                          seen=b.get("version")),
    "fix": lambda ctx, b: decisions.fix_word(ctx, b["clip"], index=int(b["index"]), text=b["text"],
                                             seen=b.get("version")),
    "frame": lambda ctx, b: overrides.set_frame(ctx, b["clip"], mode=b["mode"], seen=b.get("version")),
    "captions": lambda ctx, b: overrides.set_captions(ctx, b["clip"], style=str(b["style"]), seen=b.get("version")),
    "keyframe": lambda ctx, b: overrides.set_keyframe(ctx, b["clip"], x=float(b["x"]), y=float(b["y"]),
                                                      seen=b.get("version")),
    "broll_remove": lambda ctx, b: overrides.remove_broll(ctx, b["clip"], index=int(b["index"]),
                                                          seen=b.get("version")),
    "broll_add": lambda ctx, b: overrides.add_broll(ctx, b["clip"], asset=str(b["asset"]), index=int(b["index"]),
                                                    seen=b.get("version")),
    "add": lambda ctx, b: decisions.add_clip(ctx, first=int(b["first"]), last=int(b["last"]),
                                             title=b.get("title", "")),
}


def create_app(*, root: Path, guard: Guard, builder: Builder) -> Starlette:
    root = root.resolve()

    async def index(request: Request) -> Response:
        return HTMLResponse(_view(root, builder, guard), headers=HEADERS)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:  # a fixed list: nothing else of the package is reachable
            return _refuse(404, "no such file")
        body = resources.files("clipforge.editor").joinpath("static", name).read_bytes()
        return Response(body, media_type=STATIC[name], headers=HEADERS)

    async def media(request: Request) -> Response:
        path = inside(root / "clips", request.path_params["path"])
        if path is None:
            return _refuse(404, "not a file inside clips/")
        return FileResponse(path, headers=HEADERS)

    async def status(request: Request) -> Response:
        data = builder.status.to_dict()
        data["read_only"] = builder.read_only()
        return JSONResponse(data, headers=HEADERS)

    async def edit(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return _refuse(413, "request too large")
        try:
            body = json.loads(raw)
            action = body["action"]
        except (ValueError, KeyError, TypeError):
            return _refuse(400, "not an edit")
        if action == "make_editable":
            if builder.busy():
                return _refuse(409, "a build is already running")
            ahead = builder.submit(Edit(what="make editable: doit keep=yes", apply=None))
            return JSONResponse({"queued": ahead}, status_code=202, headers=HEADERS)
        if action not in ACTIONS or not isinstance(body.get("clip", ""), str):
            return _refuse(400, f"unknown action {str(action)[:40]!r}")
        if builder.read_only():
            return _refuse(409, "a run is in progress in this folder: the editor is read-only until it ends")
        fn = ACTIONS[action]

        def apply() -> str:
            with decisions.editing() as ctx:
                return fn(ctx, body)

        what = f"{action} {body.get('clip', '')}".strip()
        ahead = builder.submit(Edit(what=what, apply=apply))
        return JSONResponse({"queued": ahead}, status_code=202, headers=HEADERS)

    async def frame(request: Request) -> Response:
        """A source frame of one clip (made on first use): the only file served from temp_processing/."""
        clip_id = request.path_params["clip"]
        st = _saved_run()
        if st is None or not clip_id.startswith("seg") or not clip_id[3:].isdigit():
            return _refuse(404, "no such clip")
        try:  # ffmpeg off the event loop: the status polls keep being answered meanwhile
            made = await run_in_threadpool(overrides.source_frame, decisions.context_of(st), clip_id)
        except Exception:  # no picture to show is not an error of the page
            made = None
        path = inside(root, made) if made else None
        if path is None:
            return _refuse(404, "no frame for this clip")
        return FileResponse(path, media_type="image/jpeg", headers=HEADERS)

    async def favicon(request: Request) -> Response:
        return Response(status_code=204, headers=HEADERS)  # no icon, and no 404 in the console

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/frame/{clip}", frame, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/media/clips/{path:path}", media, methods=["GET"]),
        Route("/api/status", status, methods=["GET"]),
        Route("/api/edit", edit, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(GuardMiddleware, guard=guard)
    return app
