"""The drawing app under a class's load (`make load-test`): N visitors open the page at once in
Chromium (a browser context each), draw a 3 and a 7 with the mouse, then close the tab, or vanish
(their browser killed, so no goodbye is sent). Against one `python -m digitlib app` server with
the settings of params/app.yaml, it reports:

- time to pad: from asking for the page to the pad drawn and ready, median and worst;
- answers right: the 3 and the 7 read as 3 and 7;
- visits the server holds 10, 60 and 180 s after the visitors left;
- the server's resident memory before, at its peak and after, and per visitor ((peak - before) / N);
- 100 visits in waves (open, draw, leave; a third vanish), memory before and once the idle time has passed;
- a visitor over the ceiling (a second server with a ceiling of two): what the page says, with a screenshot.

Results go to reports/app_load.json after each part (an interrupted run keeps what it measured);
`python -m digitlib results` puts its table in the README. Run it alone: the visitors' Chromium
shares the 2 cores with the server, and the times are what a visitor on this machine waits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

from digitlib import config, records
from digitlib.pictures import app, interface, synthetic

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
DRAWN = ("3", "7")
REPORT = app.LOAD_REPORT


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, timeout: float = 5) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


class Server:
    """`python -m digitlib app` in a process of its own, with its memory sampled while it runs."""

    def __init__(self, *options: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "digitlib", "app", "--port", str(self.port), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.printed: list[str] = []
        threading.Thread(target=self._read_output, daemon=True).start()
        deadline = time.monotonic() + 180
        while True:
            try:
                self.status()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the app did not start:\n" + "\n".join(self.printed)) from None
                time.sleep(0.2)
        self.start_seconds = time.perf_counter() - started
        self.peak = 0.0
        self._sampling = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _read_output(self) -> None:
        for line in self.process.stdout:
            self.printed.append(line.rstrip())

    def _sample(self) -> None:
        memory = psutil.Process(self.process.pid)
        while self.process.poll() is None:
            self.peak = max(self.peak, memory.memory_info().rss / 2**20)
            time.sleep(0.1)

    def status(self) -> dict:
        return _get(self.url + "status")

    def memory(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def reset_peak(self) -> float:
        self.peak = self.memory()
        return self.peak

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class Browser:
    """Debian's Chromium launched by Playwright, with a mark on its command line so that its processes
    can be found and killed outright (a browser that vanishes)."""

    def __init__(self, playwright):
        self.playwright, self.mark = playwright, f"--load-test-browser={secrets.token_hex(6)}"

    async def connect(self):
        self.browser = await self.playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS[1:], self.mark], headless=True
        )
        return self.browser

    async def close(self) -> None:
        """The browser quits as it does when a person quits it (its tabs already closed)."""
        await self.browser.close()

    def kill(self) -> None:
        """The browser vanishes: no tab closes, no goodbye is sent."""
        marked = [p for p in psutil.process_iter(["cmdline"]) if self.mark in (p.info["cmdline"] or [])]
        for process in marked:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(marked, timeout=30)


async def _draw(page, text: str) -> None:
    canvas = page.locator("#pad")
    box = await canvas.bounding_box()
    scale = box["width"] / interface.CANVAS_SIZE
    for stroke in synthetic.number_strokes(text):
        points = [stroke[0]]
        for start, end in zip(stroke, stroke[1:]):
            points += [
                (start[0] + t * (end[0] - start[0]) / 8, start[1] + t * (end[1] - start[1]) / 8) for t in range(1, 9)
            ]
        await page.mouse.move(box["x"] + points[0][0] * scale, box["y"] + points[0][1] * scale)
        await page.mouse.down()
        for x, y in points[1:]:
            await page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        await page.mouse.up()


async def _answer(page, timeout: float = 120) -> str:
    """The digit shown once the answer to the last stroke has come."""
    await page.wait_for_function(
        "blank => { const a = document.querySelector('.digit-answer'); return a && !a.innerText.includes(blank); }",
        arg=interface.BLANK_MESSAGE,
        timeout=1000 * timeout,
    )
    await page.wait_for_load_state()
    await asyncio.sleep(0.3)  # an answer to an earlier stroke may still be replaced by the last one's
    return (await page.locator(".digit-answer").first.inner_text()).strip()


async def _visit(context, url: str) -> dict:
    """One visitor: open the page, draw a 3, clear, draw a 7. Times are from asking for the page."""
    page = await context.new_page()
    asked = time.perf_counter()
    response = await page.goto(url, timeout=300_000)
    if response.status == 503:  # over the ceiling: the busy page
        return {"page": page, "refused": True, "time_to_pad": float("nan"), "read": []}
    await page.locator("#pad").wait_for(state="visible", timeout=300_000)
    await page.wait_for_function("() => document.getElementById('undo').disabled === true")  # the script has run
    ready = time.perf_counter() - asked
    read = []
    for digit in DRAWN:
        await page.locator("#clear").click()
        await _draw(page, digit)
        read.append(await _answer(page))
    return {"page": page, "refused": False, "time_to_pad": ready, "read": read}


async def _wave(playwright, url: str, closing: int, vanishing: int) -> list[dict]:
    """`closing` visitors who close their tab and `vanishing` ones whose browser dies, all at once."""
    groups = []
    for count, leave in ((closing, "close"), (vanishing, "vanish")):
        if count:
            browser = Browser(playwright)
            connected = await browser.connect()
            contexts = [await connected.new_context(viewport={"width": 1000, "height": 800}) for _ in range(count)]
            groups.append((leave, browser, contexts))
    tasks = [
        (leave, asyncio.create_task(_visit(context, url))) for leave, _, contexts in groups for context in contexts
    ]
    results = []
    for leave, task in tasks:
        results.append({**await task, "leave": leave})
    for visit in results:
        if visit["leave"] == "close":
            await visit["page"].close()  # the tab closes: the page says goodbye
    for leave, browser, _ in groups:
        if leave == "vanish":
            browser.kill()
        else:
            await browser.close()
    return results


def _summary(results: list[dict]) -> dict:
    served = [v for v in results if not v["refused"]]
    times = [v["time_to_pad"] for v in served]
    right = sum(read == digit for v in served for read, digit in zip(v["read"], DRAWN))
    return {
        "refused": len(results) - len(served),
        "time_to_pad_s": {"median": round(statistics.median(times), 2), "worst": round(max(times), 2)},
        "answers_right": right,
        "answers": len(DRAWN) * len(served),
        "readings": sorted({"".join(v["read"]) for v in results}),
    }


async def _scenario(playwright, server: Server, visitors: int, leave: str, waits: list[int]) -> dict:
    before = server.reset_peak()
    results = await _wave(
        playwright, server.url, visitors if leave == "close" else 0, visitors if leave == "vanish" else 0
    )
    left_at = time.monotonic()
    peak = server.peak
    alive = {}
    for wait in waits:
        await asyncio.sleep(max(0.0, left_at + wait - time.monotonic()))
        alive[str(wait)] = server.status()["visits"]
    record = {
        "visitors": visitors,
        "leave": leave,
        **_summary(results),
        "visits_alive_after_s": alive,
        "memory_mb": {"before": round(before), "peak": round(peak), "after": round(server.memory())},
        "memory_per_visitor_mb": round(max(peak - before, 0.0) / visitors, 1),
    }
    print(f"{visitors} visitor(s), {leave}: {record}", flush=True)
    return record


async def _hundred(playwright, server: Server, visits: int, wave: int, idle: float) -> dict:
    before = server.reset_peak()
    results: list[dict] = []
    while len(results) < visits:
        size = min(wave, visits - len(results))
        vanishing = round(size / 3)
        results += await _wave(playwright, server.url, size - vanishing, vanishing)
        print(f"  {len(results)} of {visits} visits", flush=True)
    peak = server.peak
    await asyncio.sleep(idle + 10)  # the idle time, and the culling's next pass
    after = server.memory()
    record = {
        "visits": len(results),
        "vanished": sum(v["leave"] == "vanish" for v in results),
        "at_once": wave,
        **_summary(results),
        "visits_alive_after_idle_time": server.status()["visits"],
        "memory_mb": {"before": round(before), "peak": round(peak), "after": round(after)},
        "memory_change_percent": round(100 * (after - before) / before, 1),
    }
    print(f"{visits} visits: {record}", flush=True)
    return record


async def _over_the_ceiling(playwright) -> dict:
    server = Server("--max-visitors", "2")
    try:
        browser = Browser(playwright)
        connected = await browser.connect()
        context = await connected.new_context(viewport={"width": 900, "height": 300})
        held = [await (await context.new_page()).goto(server.url) for _ in range(2)]
        page = await context.new_page()
        response = await page.goto(server.url)
        shown = (await page.inner_text("body")).strip()
        figure = config.FIGURES_DIR / "06_app_busy.png"
        await page.screenshot(path=str(figure))
        await browser.close()
        return {
            "ceiling": 2,
            "held": len(held),
            "status": response.status,
            "retry_after": response.headers.get("retry-after"),
            "shown": shown,
            "screenshot": config.display_path(figure),
        }
    finally:
        server.stop()


async def main(args: argparse.Namespace) -> int:
    from playwright.async_api import async_playwright

    settings = app.load_settings()
    report: dict = {
        "machine": {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
        "settings": {"idle_seconds": settings.idle_seconds, "heartbeat_seconds": settings.heartbeat_seconds},
        "scenarios": [],
    }
    server = Server()
    report["server"] = {"start_seconds": round(server.start_seconds, 1), "memory_mb": round(server.memory())}
    report["ceiling"] = server.status()["ceiling"]
    print(
        f"server up in {server.start_seconds:.1f} s, {server.memory():.0f} MiB; ceiling {report['ceiling']}", flush=True
    )

    def save() -> None:
        per_visitor = [s["memory_per_visitor_mb"] for s in report["scenarios"]]
        if per_visitor:
            report["memory_per_visitor_mb"] = max(per_visitor)
        records.write_json(args.out, report)

    try:
        async with async_playwright() as playwright:
            for visitors, leave, waits in args.plan:
                report["scenarios"].append(await _scenario(playwright, server, visitors, leave, waits))
                save()
            if args.visits:
                report["hundred_visits"] = await _hundred(
                    playwright, server, args.visits, args.wave, settings.idle_seconds
                )
                save()
            report["over_the_ceiling"] = await _over_the_ceiling(playwright)
            save()
    finally:
        server.stop()
    print(f"wrote {config.display_path(args.out)}")
    return 0


def _plan(text: str) -> tuple[int, str, list[int]]:
    """'8:close:10,60,180' -> (8, 'close', [10, 60, 180])."""
    visitors, leave, waits = text.split(":")
    if leave not in ("close", "vanish"):
        raise argparse.ArgumentTypeError(f"leave must be close or vanish, got {leave!r}")
    return int(visitors), leave, [int(w) for w in waits.split(",")]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--plan",
        type=_plan,
        nargs="+",
        default=[_plan(p) for p in ("1:close:10", "4:close:10", "8:close:10,60,180", "8:vanish:10,60,180")],
        help="scenarios VISITORS:close|vanish:SECONDS,... (visits counted that long after they left)",
    )
    parser.add_argument("--visits", type=int, default=100, help="visits in the long run (0: none)")
    parser.add_argument("--wave", type=int, default=10, help="visitors at once in the long run")
    parser.add_argument("--out", type=Path, default=REPORT)
    if not Path(CHROMIUM).exists():
        sys.exit(f"error: no Chromium at {CHROMIUM}: `make load-test` installs it (apt-get install chromium)")
    sys.exit(asyncio.run(main(parser.parse_args())))
