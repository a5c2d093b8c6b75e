"""``seqlab serve RUN_DIR ...``: a small Starlette app, one page with a panel per loaded run.

Why Starlette and not gradio: the page is one HTML file with plain JavaScript (``page.html``),
so the install is two small packages (``pip install seqlab[serve]``: starlette, uvicorn) and the
browser tests see exactly the elements written here; a language model's text streams as a plain
chunked response; the plots are the CLI's own PNGs.  Routes:

    GET  /                      the page
    GET  /api/runs              the loaded runs and what each panel needs
    POST /api/{i}/predict       the panel's action (form fields as JSON; an upload as the raw body,
                                its fields in the query string)
    POST /api/{i}/stream        a panel that streams (a language model's continuation), as text
    GET  /api/{i}/gradients     the gradient-flow plot of the run's first recurrent layer

Bad input answers 400 with ``{"error": message}``; the page shows it and the server keeps serving.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from seqlab.errors import UserError
from seqlab.serve.panels import ServedRun
from seqlab.tasks.panel import MAX_UPLOAD

PAGE = Path(__file__).with_name("page.html")


def require_starlette():
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UserError("seqlab serve needs starlette and uvicorn: pip install 'seqlab[serve]'") from None


def create_app(run_dirs: list[str], device: str = "auto"):
    """The Starlette app serving ``run_dirs`` (each loaded once, here)."""
    require_starlette()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
    from starlette.routing import Route

    if not run_dirs:
        raise UserError("seqlab serve needs at least one RUN_DIR")
    panels = [ServedRun(i, d, device) for i, d in enumerate(run_dirs)]
    import seqlab.plots  # noqa: F401 - matplotlib and its font list loaded now, not in the first request that plots
    from seqlab.nn import fused

    if fused.is_enabled():  # the C++ recurrence compiled (once) or loaded now, not in the first request that runs it
        fused.load()

    def error(message: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def panel_of(request: Request) -> ServedRun:
        raw = request.path_params["index"]
        if not raw.isdigit() or int(raw) >= len(panels):
            raise UserError(f"no panel {raw!r}: there are {len(panels)}")
        return panels[int(raw)]

    async def fields_of(request: Request) -> tuple[dict, bytes | None]:
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = json.loads(await request.body() or b"{}")
            except json.JSONDecodeError as e:
                raise UserError(f"the request is not JSON ({e.msg})") from None
            if not isinstance(body, dict):
                raise UserError("the request must be a JSON object of form fields")
            return {k: str(v) for k, v in body.items()}, None
        size = int(request.headers.get("content-length") or 0)
        if size > MAX_UPLOAD:
            raise UserError(f"the upload has {size:,} bytes; the limit is {MAX_UPLOAD:,}")
        return dict(request.query_params), await request.body()

    def guarded(handler):
        async def endpoint(request: Request):
            try:
                return await handler(request)
            except UserError as e:
                return error(str(e))
            except Exception as e:  # noqa: BLE001 - a bug answers 500 with its message; the server keeps serving
                print(f"seqlab serve: {request.url.path}: {type(e).__name__}: {e}", file=sys.stderr)
                return error(f"internal error: {type(e).__name__}: {e}", 500)

        return endpoint

    async def page(request: Request):
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    async def runs(request: Request):
        return JSONResponse([p.describe() for p in panels])

    async def predict(request: Request):
        panel = panel_of(request)
        fields, upload = await fields_of(request)
        return JSONResponse(await run_in_threadpool(panel.answer, fields, upload))

    async def stream(request: Request):
        panel = panel_of(request)
        fields, _ = await fields_of(request)
        chunks = await run_in_threadpool(panel.stream, fields)
        return StreamingResponse(chunks, media_type="text/plain; charset=utf-8")

    async def gradients(request: Request):
        panel = panel_of(request)
        return JSONResponse({"image": await run_in_threadpool(panel.gradients)})

    routes = [
        Route("/", page), Route("/api/runs", runs),
        Route("/api/{index}/predict", guarded(predict), methods=["POST"]),
        Route("/api/{index}/stream", guarded(stream), methods=["POST"]),
        Route("/api/{index}/gradients", guarded(gradients)),
    ]
    return Starlette(routes=routes)


def serve(run_dirs: list[str], host: str = "127.0.0.1", port: int = 8000, device: str = "auto") -> None:
    """Load the runs and serve the page until interrupted."""
    if not 0 <= port <= 65535:
        raise UserError(f"--port must lie in [0, 65535], got {port}")
    app = create_app(run_dirs, device)  # checks that starlette and uvicorn are installed
    import uvicorn

    print(f"seqlab serve: {len(run_dirs)} run(s) on http://{host}:{port}/  (Ctrl-C stops)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
