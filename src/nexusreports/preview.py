"""``nexusreports preview``: the sheets and the bundle in a browser, updated on every save.

In: build options (the project's folders).  Out: a local web page, bound to 127.0.0.1 only,
that shows each sheet's page as an image, Dutch and English side by side, the bundle's pages
after them, every PDF and Word file a click away.

How: a watcher thread (watchfiles) waits for a change under the data and templates folders
and runs the incremental build (:func:`nexusreports.pipeline.build`: only what changed is
rendered, the outputs are written to the output folder as ``build`` writes them); the pages
of each new PDF are drawn as PNG images with pypdfium2 and kept in memory.  A build that
fails (a file saved halfway through an edit, a broken template) changes nothing but the
problems shown: the page lists them as ``validate`` prints them (``file:line: field:
message``) over the last good pages, and shows the new pages once the files are right
again.  The server is Starlette on uvicorn; the page asks ``/state`` a few times a second
whether anything changed.  Ctrl-C stops the server and the watcher, after a build that is
under way has finished (its outputs are written whole, or not at all).

Nothing here draws a sheet: the build does, and pypdfium2 turns its PDFs into images.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import NexusError
from .pipeline import BuildOptions, BuildResult, build
from .write import Output

log = logging.getLogger("nexusreports")

__all__ = ["Preview", "make_app", "serve"]

SHEET_DPI = 100
"""Resolution of a sheet's image (an A4 page 827 pixels wide)."""

BUNDLE_DPI = 40
"""Resolution of the bundle's page images (thumbnails)."""

POLL_MS = 300
"""How often the page asks whether anything changed, in milliseconds."""

LOCAL_HOSTS = ("127.0.0.1", "localhost")
"""The host names a request may give (its ``Host`` header, without the port): the page is
served to this computer's own browser only, never to a site that points another name at
127.0.0.1 (DNS rebinding)."""


@dataclass(frozen=True)
class Page:
    """One page image: its URL name, its pixels and its text (the image's alternative)."""

    name: str
    png: bytes = field(repr=False)
    text: str


@dataclass(frozen=True)
class Shown:
    """One output as the page shows it: its path in the output folder, project and language
    (None for the bundle) and its page images (none for Word files)."""

    path: str
    format: str
    slug: str | None
    lang: str | None
    pages: tuple[Page, ...] = ()


class Preview:
    """The state of the preview: the last good outputs, the problems of the last build, a
    version number that grows with every change the page must show.  :meth:`rebuild` runs
    in one thread at a time (the watcher's); readers take :meth:`snapshot`."""

    def __init__(self, options: BuildOptions):
        self.options = options
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._outputs: tuple[Shown, ...] = ()
        self._problems: tuple[str, ...] = ()
        self._building = False
        self._version = 0
        self._built_at = ""
        self._images: dict[str, tuple[Page, ...]] = {}  # by sha256 of the PDF

    # --- the build side ---------------------------------------------------------------

    def rebuild(self) -> None:
        """Run the incremental build; keep its outputs' page images, or, when it fails,
        the last good ones with the build's problems.  Never raises (but a stop signal).

        It builds twice: the sheets (``bundle=False``), shown at once, then everything (the
        sheets, now up to date, are reused), which adds the bundle: the bundle takes several
        times as long as one project's sheets, and the page should not wait for it."""
        with self._build_lock:
            self._set(building=True)
            images, self._images = self._images, {}
            sheets = self._build(replace(self.options, bundle=False))
            if sheets is None:
                self._images.update(images)
                return
            bundle_before = tuple(o for o in self._outputs if o.slug is None)
            shown = self._shown(sheets.outputs, images)
            if not self.options.bundle:
                self._set(building=False, problems=_warnings(sheets), outputs=shown)
                return
            self._set(building=True, problems=_warnings(sheets), outputs=shown + bundle_before)
            everything = self._build(self.options)
            if everything is None:
                return
            self._set(building=False, problems=_warnings(everything),
                      outputs=self._shown(everything.outputs, images))

    def _build(self, options: BuildOptions) -> BuildResult | None:
        """``build(options)``, or None after showing why it failed."""
        try:
            return build(options)
        except NexusError as exc:
            self._set(building=False, problems=tuple(exc.lines()))
        except Exception as exc:  # noqa: BLE001 - the preview must outlive any bug
            log.debug("internal error in the preview's build", exc_info=True)
            self._set(building=False, problems=(
                f"internal error: {exc.__class__.__name__}: {exc}. This is a bug in "
                "nexusreports; run 'nexusreports build -vv' and report the output.",))
        return None

    def _shown(self, outputs: list, images: dict[str, tuple[Page, ...]]) -> tuple[Shown, ...]:
        return tuple(Shown(path=o.path, format=o.format, slug=o.slug, lang=o.lang,
                           pages=self._pages(o, images) if o.format == "pdf" else ())
                     for o in outputs)

    def _pages(self, output: Output, drawn: dict[str, tuple[Page, ...]]) -> tuple[Page, ...]:
        """The page images of ``pdf``: those drawn already in this rebuild or the last one
        (``drawn``) when its bytes are the same, else drawn now; kept for the next one."""
        digest = (output.sha256 or hashlib.sha256(output.data).hexdigest())[:16]
        pages = self._images.get(digest) or drawn.get(digest)
        if not pages:  # the bytes: in memory, or in the output folder once committed
            pdf = output.data or (Path(self.options.out_dir) / output.path).read_bytes()
            pages = tuple(_draw(pdf, digest, BUNDLE_DPI if output.slug is None
                                else SHEET_DPI))
        self._images[digest] = pages
        return pages

    def _set(self, *, building: bool, problems: tuple[str, ...] | None = None,
             outputs: tuple[Shown, ...] | None = None) -> None:
        with self._lock:
            self._building = building
            if problems is not None:
                self._problems = problems
            if outputs is not None:
                self._outputs = outputs
                self._built_at = time.strftime("%H:%M:%S")
            self._version += 1

    # --- the serving side -------------------------------------------------------------

    def snapshot(self) -> dict:
        """What the page shows, as JSON-ready data."""
        with self._lock:
            outputs, problems = self._outputs, self._problems
            version, building, built_at = self._version, self._building, self._built_at
        sheets: dict[str, dict] = {}
        bundle = {"files": [], "pages": []}
        for o in outputs:
            if o.slug is None:
                bundle["files"].append({"path": o.path, "url": f"/out/{o.path}"})
                bundle["pages"] += [{"url": f"/img/{p.name}.png", "text": p.text}
                                    for p in o.pages]
                continue
            sheet = sheets.setdefault(o.slug, {"slug": o.slug, "langs": {}})
            lang = sheet["langs"].setdefault(o.lang, {"lang": o.lang, "files": []})
            lang["files"].append({"path": o.path, "url": f"/out/{o.path}"})
            if o.pages:
                lang["image"] = {"url": f"/img/{o.pages[0].name}.png", "text": o.pages[0].text}
        return {"version": version, "building": building, "built_at": built_at,
                "problems": list(problems),
                "sheets": [{**s, "langs": list(s["langs"].values())} for s in sheets.values()],
                "bundle": bundle}

    def image(self, name: str) -> bytes | None:
        with self._lock:
            outputs = self._outputs
        for o in outputs:
            for page in o.pages:
                if page.name == name:
                    return page.png
        return None

    def output_file(self, path: str) -> Path | None:
        """The file of an output the page shows (and no other file)."""
        with self._lock:
            known = {o.path for o in self._outputs}
        return Path(self.options.out_dir) / path if path in known else None


def _warnings(result: BuildResult) -> tuple[str, ...]:
    return tuple(f"warning: {w}" for w in result.warnings)


def _draw(pdf: bytes, digest: str, dpi: int) -> Iterator[Page]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        for i in range(len(document)):
            page = document[i]
            bitmap = page.render(scale=dpi / 72)
            buffer = io.BytesIO()
            bitmap.to_pil().save(buffer, format="PNG")
            textpage = page.get_textpage()
            text = " ".join(textpage.get_text_range().split())
            textpage.close()
            page.close()
            yield Page(name=f"{digest}-{i + 1}", png=buffer.getvalue(), text=text)
    finally:
        document.close()


# --- watching ---------------------------------------------------------------------------

def watched(options: BuildOptions) -> list[Path]:
    """The folders whose changes rebuild: the data and the templates."""
    return [Path(options.data_dir), Path(options.templates_dir)]


def watch(preview: Preview, stop: threading.Event,
          on_change: Callable[[set], None] | None = None) -> None:
    """Build once, then rebuild after every change under :func:`watched` until ``stop``.
    Changes inside the output folder, editors' swap and backup files are not changes."""
    import watchfiles

    out = Path(preview.options.out_dir).resolve()

    class _Filter(watchfiles.DefaultFilter):
        def __call__(self, change: watchfiles.Change, path: str) -> bool:
            p = Path(path)
            if p.name.endswith(("~", ".tmp", ".swp", ".swx")) or p.name.startswith(".#"):
                return False
            if p.resolve().is_relative_to(out):
                return False
            return super().__call__(change, path)

    folders = [f for f in watched(preview.options) if f.is_dir()]
    if not folders:  # nothing to watch: the page shows why (the first build's problems)
        preview.rebuild()
        stop.wait()
        return
    # the first build runs once the watcher is set up (the first, empty, timeout), so a
    # file saved during it is not missed; a save during any build is seen after it
    first = True
    for changes in watchfiles.watch(*folders, watch_filter=_Filter(), stop_event=stop,
                                    debounce=800, step=50, rust_timeout=100,
                                    yield_on_timeout=True, raise_interrupt=False):
        if stop.is_set():
            break
        if not changes and not first:
            continue
        if changes:
            log.info("changed: %s", ", ".join(sorted(Path(p).name for _, p in changes)))
            if on_change:
                on_change(changes)
        first = False
        preview.rebuild()


def _watch_logged(preview: Preview, stop: threading.Event) -> None:
    """:func:`watch`, its end by an error said on stderr (the page keeps what it shows)."""
    try:
        watch(preview, stop)
    except Exception as exc:  # noqa: BLE001 - a thread's error would otherwise go unseen
        log.debug("the preview's watcher stopped", exc_info=True)
        log.error("the preview no longer follows changes (%s: %s); restart it with Ctrl-C "
                  "and 'nexusreports preview'", exc.__class__.__name__, exc)


# --- the web page -----------------------------------------------------------------------

def make_app(preview: Preview, stop: threading.Event | None = None,
             watcher: bool = True, on_start: Callable[[], None] | None = None):
    """The Starlette application of ``preview``; with ``watcher`` it runs :func:`watch` in a
    thread from start-up to shutdown; ``on_start()`` is called at start-up."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    stop = stop or threading.Event()

    @asynccontextmanager
    async def lifespan(app: Starlette):
        thread = None
        if on_start:
            on_start()
        if watcher:
            thread = threading.Thread(target=_watch_logged, args=(preview, stop), daemon=True,
                                      name="nexusreports-preview-watch")
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=60)

    async def index(request: Request) -> Response:
        return HTMLResponse(_PAGE.replace("{poll_ms}", str(POLL_MS)))

    async def state(request: Request) -> Response:
        return JSONResponse(preview.snapshot(), headers={"Cache-Control": "no-store"})

    async def image(request: Request) -> Response:
        png = preview.image(request.path_params["name"])
        if png is None:
            return Response("no such page", status_code=404)
        return Response(png, media_type="image/png",
                        headers={"Cache-Control": "max-age=3600, immutable"})

    async def output(request: Request) -> Response:
        path = preview.output_file(request.path_params["path"])
        if path is None or not path.is_file():
            return Response("no such output", status_code=404)
        return FileResponse(path, headers={"Cache-Control": "no-store"})

    # only requests addressed to this computer by name: a web page elsewhere that points
    # its own host name at 127.0.0.1 (DNS rebinding) gets 400, not the project's files
    return Starlette(routes=[Route("/", index), Route("/state", state),
                             Route("/img/{name}.png", image),
                             Route("/out/{path:path}", output)], lifespan=lifespan,
                     middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=LOCAL_HOSTS,
                                            www_redirect=False)])


def serve(options: BuildOptions, port: int = 0,
          ready: Callable[[str], None] | None = None,
          on_start: Callable[[], None] | None = None) -> None:
    """Serve the preview of ``options`` on 127.0.0.1 (``port`` 0: a free port) until a
    stop signal; ``ready(url)`` is called once the port is open, ``on_start()`` once the
    server runs (and handles the stop signals itself).  Returns after the server and the
    watcher have stopped."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        from .errors import OutputError

        raise OutputError(f"127.0.0.1:{port}: cannot listen ({exc.strerror or exc}): give "
                          "another --port, or 0 for any free one") from exc
    sock.listen(128)  # from now on a connection waits for the server instead of failing
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    preview = Preview(replace(options, jobs=1))
    config = uvicorn.Config(make_app(preview, on_start=on_start), log_config=None, log_level="warning",
                            access_log=False, timeout_graceful_shutdown=2, lifespan="on")
    server = uvicorn.Server(config)
    if ready:
        ready(url)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nexusreports preview</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font-family: Carlito, Calibri, system-ui, sans-serif; margin: 0; background: #eef0f3;
         color: #1d2733; }
  header { position: sticky; top: 0; background: #1d2733; color: #fff; padding: .6rem 1rem;
           display: flex; gap: 1rem; align-items: baseline; z-index: 2; }
  header h1 { font-size: 1.1rem; margin: 0; }
  #status { font-size: .9rem; opacity: .85; }
  main { padding: 1rem; }
  #problems { background: #fff3f0; border: 2px solid #c0392b; border-radius: 6px;
              padding: .6rem 1rem; margin-bottom: 1rem; }
  #problems h2 { color: #c0392b; font-size: 1rem; margin: .2rem 0 .4rem; }
  #problems ol { margin: 0; padding-left: 1.2rem; font-family: ui-monospace, monospace;
                 font-size: .85rem; white-space: pre-wrap; }
  #problems.stale + #pages { opacity: .55; }
  .sheet { margin-bottom: 1.5rem; }
  .sheet h2 { font-size: 1rem; margin: 0 0 .4rem; }
  .langs { display: flex; gap: 1rem; flex-wrap: wrap; }
  figure { margin: 0; background: #fff; padding: .4rem; box-shadow: 0 1px 3px #0003; }
  figure img { display: block; width: min(44vw, 600px); height: auto; }
  figcaption { font-size: .85rem; padding-top: .3rem; }
  .bundle img { width: 150px; }
  .thumbs { display: flex; gap: .5rem; flex-wrap: wrap; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<header><h1>nexusreports preview</h1><span id="status" role="status">starting...</span></header>
<main>
  <section id="problems" hidden aria-live="polite"><h2>Problems (the pages below are the last
    good ones)</h2><ol id="problem-list"></ol></section>
  <div id="pages"></div>
</main>
<script>
"use strict";
let shown = -1;
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}
function links(files) {
  const span = el("span", {});
  files.forEach((f, i) => { if (i) span.append(" · ");
    span.append(el("a", {href: f.url, target: "_blank"}, f.path)); });
  return span;
}
function render(s) {
  const problems = document.getElementById("problems");
  const list = document.getElementById("problem-list");
  list.replaceChildren(...s.problems.map(p => el("li", {class: "problem"}, p)));
  const errors = s.problems.some(p => !p.startsWith("warning: "));
  problems.hidden = s.problems.length === 0;
  problems.classList.toggle("stale", errors);
  const pages = document.getElementById("pages");
  const out = [];
  for (const sheet of s.sheets) {
    const langs = el("div", {class: "langs"});
    for (const l of sheet.langs) {
      const fig = el("figure", {"data-sheet": sheet.slug + "/" + l.lang});
      if (l.image) fig.append(el("img", {src: l.image.url, "data-text": l.image.text,
                                         alt: sheet.slug + " (" + l.lang + "), page 1"}));
      fig.append(el("figcaption", {}, l.lang + ": ", links(l.files)));
      langs.append(fig);
    }
    out.push(el("section", {class: "sheet", id: "sheet-" + sheet.slug},
                el("h2", {}, sheet.slug), langs));
  }
  if (s.bundle.files.length) {
    const thumbs = el("div", {class: "thumbs"});
    s.bundle.pages.forEach((p, i) => thumbs.append(el("img", {src: p.url, "data-text": p.text,
                                                              alt: "bundle, page " + (i + 1)})));
    out.push(el("section", {class: "sheet bundle", id: "bundle"},
                el("h2", {}, "Briefing bundle: ", links(s.bundle.files)), thumbs));
  }
  pages.replaceChildren(...out);
}
async function poll() {
  try {
    const r = await fetch("/state", {cache: "no-store"});
    const s = await r.json();
    document.getElementById("status").textContent =
      (s.building ? "building... " : "") + (s.built_at ? "last good build " + s.built_at : "");
    document.body.dataset.version = s.version;
    if (s.version !== shown) { render(s); shown = s.version; }
  } catch (e) {
    document.getElementById("status").textContent = "the preview has stopped";
  }
  setTimeout(poll, {poll_ms});
}
poll();
</script>
</body>
</html>
"""
