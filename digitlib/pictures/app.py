"""The drawing app (`make app`, `python -m digitlib app`): one process holds the model and its rule
for every visitor and serves a page with the pad, the upload button and the answer card.

A visit is only a name and the time of its last request: the strokes stay in the browser, which
sends them whole with each drawing, so a visitor costs the server no model and no kernel. Closing
the tab ends the visit (the page says goodbye as it goes); a visit that stops asking (the page
sends a heartbeat while it is open) is closed after an idle time; past a ceiling of visits at once
a newcomer gets a "busy, try again in a minute" page. The idle time, the heartbeat and the ceiling
are set in `params/app.yaml`. Predictions run on a worker thread, so pages, heartbeats and
goodbyes are answered while the model reads.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import math
import os
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from digitlib import config, records
from digitlib.pictures import interface, preprocess
from digitlib.pictures.predict import Predictor

SETTINGS_FILE = config.PARAMS_DIR / "app.yaml"
PAGE = Path(__file__).with_name("app.html")
LOAD_REPORT = config.REPORTS_DIR / "app_load.json"  # written by benchmarks/app_load.py
MAX_POINTS = 20_000  # a drawing with more points than this is refused: no hand draws it, a script might
MAX_PICTURE_BYTES = 20 * 2**20


@dataclass(frozen=True)
class Settings:
    """How the app serves (the keys of `params/app.yaml`)."""

    host: str = "127.0.0.1"
    port: int = 8866
    idle_seconds: float = 45.0  # a visit with no request this long is closed
    heartbeat_seconds: float = 15.0  # how often an open page says it is still there
    max_visitors: int | str = "auto"  # visits at once; "auto": from the memory a visit costs (`ceiling`)
    max_wait_seconds: float = 5.0  # an answer that would wait longer than this for the model is refused
    workers: int = 1  # threads that run the model

    def __post_init__(self) -> None:
        if not self.heartbeat_seconds < self.idle_seconds:
            raise ValueError(
                f"heartbeat_seconds ({self.heartbeat_seconds}) must be shorter than idle_seconds "
                f"({self.idle_seconds}), or open pages would be closed between heartbeats"
            )
        if self.max_visitors != "auto" and not (isinstance(self.max_visitors, int) and self.max_visitors >= 1):
            raise ValueError(f"max_visitors must be a whole number of at least 1 or 'auto', got {self.max_visitors!r}")
        if not self.max_wait_seconds > 0:
            raise ValueError(f"max_wait_seconds must be positive, got {self.max_wait_seconds!r}")
        if not (isinstance(self.workers, int) and self.workers >= 1):
            raise ValueError(f"workers must be a whole number of at least 1, got {self.workers!r}")


def load_settings(path: str | os.PathLike = SETTINGS_FILE, **overrides: Any) -> Settings:
    """The settings in `path`, with `overrides` (those that are not None) on top."""
    import yaml

    written = yaml.safe_load(Path(path).read_text()) or {}
    known = {field.name for field in fields(Settings)}
    unknown = sorted(set(written) - known)
    if unknown:
        raise ValueError(f"{config.display_path(path)}: unknown settings {unknown}; known: {sorted(known)}")
    settings = Settings(**written)
    return replace(settings, **{name: value for name, value in overrides.items() if value is not None})


def resident_megabytes(pid: int | None = None) -> float:
    """The resident memory of process `pid` (default: this one), in MiB."""
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def ceiling(settings: Settings, report: str | os.PathLike = LOAD_REPORT) -> tuple[int, str]:
    """How many visits the app holds at once, and why: the number set, or for "auto" half the memory
    the machine has free divided by what one visit costs, as the load test measured it
    (`reports/app_load.json`); without a measurement, as if each visit cost as much as this whole
    process (the model included), as a kernel per visitor would."""
    if settings.max_visitors != "auto":
        return int(settings.max_visitors), "set in params/app.yaml"
    import psutil

    free = psutil.virtual_memory().available / 2**20
    measured = records.read_json(Path(report)).get("memory_per_visitor_mb") if Path(report).exists() else None
    if measured:
        cost, source = max(float(measured), 1.0), f"{config.display_path(report)}'s measured cost of a visit"
    else:
        cost, source = resident_megabytes(), "no measured cost of a visit: each counted as this whole process"
    return max(1, math.floor(0.5 * free / cost)), f"half the free memory ({free:,.0f} MiB) / {cost:,.0f} MiB ({source})"


class Visits:
    """Who is on the page: each visit's name and the time of its last request."""

    def __init__(self, limit: int, idle_seconds: float, clock=time.monotonic):
        self.limit, self.idle_seconds, self.clock = limit, idle_seconds, clock
        self.last_seen: dict[str, float] = {}
        self.opened = self.refused = self.closed = self.culled = 0

    def __len__(self) -> int:
        return len(self.last_seen)

    def open(self) -> str | None:
        """A new visit's name, or None when the app is full."""
        self.cull()
        if len(self) >= self.limit:
            self.refused += 1
            return None
        name = secrets.token_urlsafe(12)
        self.last_seen[name] = self.clock()
        self.opened += 1
        return name

    def seen(self, name: str) -> bool:
        """A request from visit `name`: True when it is served. A visit closed for idling comes back
        when there is room (its page holds all it needs); False when the app is full."""
        if name not in self.last_seen:
            self.cull()
            if len(self) >= self.limit:
                self.refused += 1
                return False
            self.opened += 1
        self.last_seen[name] = self.clock()
        return True

    def close(self, name: str) -> None:
        """The visit's page is gone (the tab was closed)."""
        if self.last_seen.pop(name, None) is not None:
            self.closed += 1

    def cull(self) -> int:
        """Close every visit idle for `idle_seconds` or more; how many were closed."""
        now = self.clock()
        idle = [name for name, seen in self.last_seen.items() if now - seen >= self.idle_seconds]
        for name in idle:
            del self.last_seen[name]
        self.culled += len(idle)
        return len(idle)


def busy_html(why: str) -> str:
    """What a visitor over the ceiling sees: why, and to try again in a minute."""
    return (
        "<div class='digit-card digit-busy' style='font-size:20px;color:#b36b00'>"
        f"The drawing pad is busy: {html.escape(why)}. Try again in a minute.</div>"
    )


class Queue:
    """The answers waiting for the model, and how long one takes (a running mean): an answer that
    would wait longer than `max_wait_seconds` is refused rather than left to pile up."""

    def __init__(self, max_wait_seconds: float):
        self.max_wait_seconds = max_wait_seconds
        self.waiting = self.count = 0
        self.seconds = 0.0

    @property
    def mean_seconds(self) -> float:
        return self.seconds / self.count if self.count else 0.0

    def full(self) -> bool:
        return self.waiting * self.mean_seconds > self.max_wait_seconds

    def done(self, seconds: float) -> None:
        self.count += 1
        self.seconds += seconds


def strokes_from(payload: Any) -> list[list[tuple[float, float]]]:
    """The strokes of a drawing as the page sends them ([[[x, y], ...], ...]), checked (ValueError if not)."""
    if not isinstance(payload, list):
        raise ValueError("strokes must be a list of strokes")
    strokes, points = [], 0
    for stroke in payload:
        if not isinstance(stroke, list) or not stroke:
            raise ValueError("each stroke must be a non-empty list of [x, y] points")
        line = []
        for point in stroke:
            if not (isinstance(point, list) and len(point) == 2 and all(isinstance(v, int | float) for v in point)):
                raise ValueError(f"a point must be [x, y] numbers, got {point!r:.40}")
            line.append((float(point[0]), float(point[1])))
        points += len(line)
        strokes.append(line)
    if points > MAX_POINTS:
        raise ValueError(f"a drawing of {points:,} points is more than the {MAX_POINTS:,} a page sends")
    return strokes


def make_app(predictor: Predictor, settings: Settings, limit: int):
    """The Tornado application: the page, its answers and the visits it holds."""
    import tornado.web
    from tornado.template import Template

    visits = Visits(limit, settings.idle_seconds)
    model_threads = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="model")
    page = Template(PAGE.read_text(), autoescape=None)
    queue = Queue(settings.max_wait_seconds)

    def answer(image: Any, title: str, several: bool) -> dict[str, Any]:
        started = time.perf_counter()
        card, predictions = interface.read_card(predictor, image, title, several)
        queue.done(time.perf_counter() - started)
        text = "".join(str(p.digit) if p.status == "ok" else "?" for p in predictions if p.digit is not None)
        return {"html": card, "text": text}

    class Handler(tornado.web.RequestHandler):
        def set_default_headers(self) -> None:
            self.set_header("Cache-Control", "no-store")

        def write_error(self, status_code: int, **kwargs: Any) -> None:  # a short line, never a traceback
            self.finish({"error": self._reason})

        def busy(self, why: str) -> None:
            self.set_status(503)
            self.set_header("Retry-After", "60")
            self.finish({"busy": True, "html": busy_html(why)})

        def admitted(self, name: str) -> bool:
            if visits.seen(name):
                return True
            self.busy(f"{len(visits)} people are using it, as many as it serves at once")
            return False

        async def answered(self, image: Any, title: str, several: bool) -> None:
            """The answer card, from the model's thread; refused when the wait would be too long."""
            if queue.full():
                self.busy(f"{queue.waiting} drawings are waiting for the model")
                return
            queue.waiting += 1
            try:
                self.finish(
                    await asyncio.get_running_loop().run_in_executor(model_threads, answer, image, title, several)
                )
            finally:
                queue.waiting -= 1

    class PageHandler(Handler):
        def get(self) -> None:
            name = visits.open()
            if name is None:
                self.set_status(503)
                self.set_header("Retry-After", "60")
                self.finish(
                    "<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='refresh' content='60'>"
                    "<title>Busy</title></head><body style='font-family:sans-serif;margin:40px'>"
                    + busy_html(f"{len(visits)} people are using it, as many as it serves at once")
                    + "<p style='color:#666'>This page tries again by itself in a minute.</p>"
                    + "</body></html>"
                )
                return
            self.finish(
                page.generate(
                    visit=name,
                    size=preprocess.CANVAS_SIZE,
                    pen=preprocess.PEN_WIDTH,
                    heartbeat_ms=int(1000 * settings.heartbeat_seconds),
                    blank=interface.reading_html([]),
                    several=interface.SEVERAL_LABEL,
                )
            )

    class DrawingHandler(Handler):
        async def post(self) -> None:
            try:
                payload = json.loads(self.request.body)
                strokes = strokes_from(payload["strokes"])
                name, several = str(payload["visit"]), bool(payload.get("several", False))
            except (ValueError, KeyError, TypeError) as error:
                raise tornado.web.HTTPError(400, reason=f"not a drawing: {error}") from None
            if not self.admitted(name):
                return
            if not strokes:
                self.finish({"html": interface.reading_html([]), "text": ""})
                return
            image = preprocess.strokes_to_image(strokes, preprocess.CANVAS_SIZE, preprocess.PEN_WIDTH)
            await self.answered(image, "your drawing", several)

    class PictureHandler(Handler):
        async def post(self) -> None:
            if not self.admitted(self.get_argument("visit")):
                return
            title, several = self.get_argument("name", "picture"), self.get_argument("several", "0") == "1"
            await self.answered(self.request.body, title, several)

    class HeartbeatHandler(Handler):
        def post(self) -> None:
            if self.admitted(self.request.body.decode(errors="replace")):
                self.set_status(204)
                self.finish()

    class GoodbyeHandler(Handler):
        def post(self) -> None:  # navigator.sendBeacon, as the tab closes
            visits.close(self.request.body.decode(errors="replace"))
            self.set_status(204)
            self.finish()

    class StatusHandler(Handler):
        def get(self) -> None:
            visits.cull()
            self.finish(
                {
                    "visits": len(visits),
                    "ceiling": visits.limit,
                    "opened": visits.opened,
                    "closed": visits.closed,
                    "culled": visits.culled,
                    "refused": visits.refused,
                    "answers": queue.count,
                    "answer_seconds_mean": queue.mean_seconds,
                    "waiting": queue.waiting,
                    "resident_mb": resident_megabytes(),
                }
            )

    application = tornado.web.Application(
        [
            (r"/", PageHandler),
            (r"/drawing", DrawingHandler),
            (r"/picture", PictureHandler),
            (r"/heartbeat", HeartbeatHandler),
            (r"/goodbye", GoodbyeHandler),
            (r"/status", StatusHandler),
        ],
        visits=visits,  # in `application.settings`, for the idle culling and the tests
    )
    return application


async def serve(predictor: Predictor, settings: Settings, limit: int, reason: str) -> None:
    """Serve until interrupted, closing idle visits as they pass their idle time."""
    import tornado.ioloop

    application = make_app(predictor, settings, limit)
    application.listen(settings.port, settings.host, max_body_size=MAX_PICTURE_BYTES)
    every = min(5.0, settings.idle_seconds / 4)
    tornado.ioloop.PeriodicCallback(application.settings["visits"].cull, 1000 * every).start()
    print(
        f"The drawing pad is at http://{settings.host}:{settings.port}/ ({limit} visitors at once: {reason}; "
        f"a visit idle for {settings.idle_seconds:g} s is closed). Ctrl-C stops it.",
        flush=True,
    )
    await asyncio.Event().wait()


def _app_command(args: argparse.Namespace) -> int:
    settings = load_settings(
        args.settings,
        host=args.host,
        port=args.port,
        max_visitors=args.max_visitors,
        idle_seconds=args.idle_seconds,
        heartbeat_seconds=args.heartbeat_seconds,
    )
    started = time.perf_counter()
    print(f"loading {config.display_path(args.model)} and its rule...", flush=True)
    predictor = Predictor(args.model)
    limit, reason = ceiling(settings)
    print(f"loaded in {time.perf_counter() - started:.1f} s ({resident_megabytes():,.0f} MiB)", flush=True)
    try:
        asyncio.run(serve(predictor, settings, limit, reason))
    except OSError as error:  # the port is taken, most often
        print(f"error: cannot serve on {settings.host}:{settings.port}: {error}", file=sys.stderr)
        return 1
    return 0


def add_command(commands: Any) -> None:
    app = commands.add_parser("app", help="serve the drawing pad (settings in params/app.yaml)")
    app.add_argument("--model", default=str(config.MODELS_DIR / f"{config.DEFAULT_MODEL_NAME}.keras"))
    app.add_argument("--settings", default=str(SETTINGS_FILE), help="a YAML file of settings (params/app.yaml)")
    app.add_argument("--host", help="overrides the settings' host")
    app.add_argument("--port", type=int, help="overrides the settings' port")
    app.add_argument("--max-visitors", type=int, help="overrides the settings' ceiling")
    app.add_argument("--idle-seconds", type=float, help="overrides the settings' idle time")
    app.add_argument("--heartbeat-seconds", type=float, help="overrides the settings' heartbeat")
    app.set_defaults(handler=_app_command)
