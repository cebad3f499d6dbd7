"""The drawing app (digitlib.pictures.app) served for real on loopback, with the small model the tests
train: its page, its answers (the same cards the notebook's pad shows), its visits (goodbye, idle
culling, the ceiling) and its settings. The browser tier drives the same page in Chromium."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from dataclasses import replace

import numpy as np
import pytest
import yaml

from digitlib import records
from digitlib.pictures import app, interface, preprocess, synthetic

SETTINGS = app.Settings(host="127.0.0.1", port=0, idle_seconds=30, heartbeat_seconds=10)


class Served:
    """The app on a free port, in an event loop on a thread of its own."""

    def __init__(self, predictor, settings: app.Settings, limit: int):
        import tornado.httpserver
        import tornado.netutil

        self.application = app.make_app(predictor, settings, limit)
        self.visits: app.Visits = self.application.settings["visits"]
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/"
        self.loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            server = tornado.httpserver.HTTPServer(self.application)
            server.add_sockets(sockets)
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)

    def request(self, path: str, body: bytes | dict | None = None) -> tuple[int, dict | str]:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        request = urllib.request.Request(self.url + path, data=data, method="GET" if body is None else "POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text, kind = response.status, response.read().decode(), response.headers["Content-Type"]
        except urllib.error.HTTPError as error:
            status, text, kind = error.code, error.read().decode(), error.headers["Content-Type"]
        return status, json.loads(text) if text and "json" in (kind or "") else text

    def visit(self) -> str:
        """Open the page; the visit name it carries."""
        status, page = self.request("")
        assert status == 200, page
        return page.split('const visit = "')[1].split('"')[0]


@pytest.fixture(scope="module")
def app_server(predictor):
    server = Served(predictor, SETTINGS, limit=3)
    yield server
    server.stop()


@pytest.fixture
def served(app_server):
    """The served app, with no visit held."""
    app_server.visits.last_seen.clear()
    return app_server


@pytest.mark.slow  # the small model the tests train
def test_the_page_is_the_pad_with_the_blank_answer(served):
    status, page = served.request("")
    assert status == 200
    assert f'width="{preprocess.CANVAS_SIZE}"' in page and f"pen = {preprocess.PEN_WIDTH}" in page
    assert interface.BLANK_MESSAGE in page and interface.SEVERAL_LABEL in page
    assert "http" not in page.split("<script>")[1]  # the script fetches only from this server
    assert len(served.visits) == 1
    assert served.request("status")[1]["visits"] == 1


@pytest.mark.slow  # the small model the tests train
def test_a_drawing_gets_the_card_the_notebook_pad_shows(served, predictor):
    name = served.visit()
    strokes = [[list(point) for point in stroke] for stroke in synthetic.FOUR]
    status, reply = served.request("drawing", {"visit": name, "strokes": strokes})
    image = preprocess.strokes_to_image(synthetic.FOUR, preprocess.CANVAS_SIZE, preprocess.PEN_WIDTH)
    card, predictions = interface.read_card(predictor, image, "your drawing", several=False)
    assert status == 200 and reply["html"] == card
    assert reply["text"] == (str(predictions[0].digit) if predictions[0].status == "ok" else "?")
    # a number, with "several digits" ticked: the predictor's reading, digit by digit
    number = synthetic.number_strokes("37")
    status, reply = served.request(
        "drawing", {"visit": name, "strokes": [[list(p) for p in s] for s in number], "several": True}
    )
    image = preprocess.strokes_to_image(number, preprocess.CANVAS_SIZE, preprocess.PEN_WIDTH)
    assert status == 200 and reply["text"] == predictor.read_number(image).text
    assert reply["html"].count("digit-model-input") == len(reply["text"])
    # nothing drawn (all undone): the blank card
    assert served.request("drawing", {"visit": name, "strokes": []})[1]["html"] == interface.reading_html([])


@pytest.mark.slow  # the small model the tests train
def test_an_upload_is_read_and_a_broken_file_says_so(served, predictor, mnist):
    _, (x_test, y_test) = mnist
    name = served.visit()
    picture = preprocess.encode_image(x_test[0])
    status, reply = served.request(f"picture?visit={name}&name=seven.png", picture)
    assert status == 200 and reply["html"] == interface.read_card(predictor, picture, "seven.png", several=False)[0]
    status, reply = served.request(f"picture?visit={name}&name=notes.txt", b"not a picture")
    assert status == 200 and "digit-error" in reply["html"] and "notes.txt" in reply["html"] and reply["text"] == ""


@pytest.mark.slow
@pytest.mark.parametrize(
    "body",
    [
        {"visit": "x", "strokes": "a 4"},
        {"visit": "x", "strokes": [[[1, 2, 3]]]},
        {"visit": "x", "strokes": [[]]},
        {"strokes": []},
        {"visit": "x", "strokes": [[[0, 0]] * (app.MAX_POINTS + 1)]},
    ],
)
def test_what_is_not_a_drawing_gets_a_short_error(served, body):
    status, reply = served.request("drawing", body)
    assert status == 400 and reply["error"].startswith("not a drawing") and "Traceback" not in reply["error"]


@pytest.mark.slow  # the small model the tests train
def test_goodbye_frees_the_visit_and_heartbeats_keep_it(served):
    name = served.visit()
    assert served.request("heartbeat", name.encode())[0] == 204
    assert name in served.visits.last_seen
    assert served.request("goodbye", name.encode())[0] == 204
    assert len(served.visits) == 0


@pytest.mark.slow  # the small model the tests train
def test_over_the_ceiling_a_newcomer_is_told_to_come_back(served):
    held = [served.visit() for _ in range(served.visits.limit)]
    status, page = served.request("")
    assert status == 503 and "busy" in page and "Try again in a minute" in page
    # a visit closed for idling that comes back while the app is full is told the same
    status, reply = served.request("drawing", {"visit": "closed-for-idling", "strokes": []})
    assert status == 503 and reply["busy"] and "Try again in a minute" in reply["html"]
    served.request("goodbye", held[1].encode())  # someone leaves: room again
    assert served.request("drawing", {"visit": "closed-for-idling", "strokes": []})[0] == 200


def test_idle_visits_are_culled_and_come_back_when_there_is_room():
    now = [0.0]
    visits = app.Visits(limit=2, idle_seconds=45, clock=lambda: now[0])
    first, second = visits.open(), visits.open()
    assert visits.open() is None and visits.refused == 1  # full
    now[0] = 30
    assert visits.seen(first)  # a heartbeat
    now[0] = 50
    assert visits.cull() == 1 and list(visits.last_seen) == [first]  # the second vanished 50 s ago
    assert visits.seen(second) and len(visits) == 2  # its page comes back: served again, room permitting
    now[0] = 200
    assert visits.open() is not None and len(visits) == 1  # opening culls first


def test_answers_are_refused_when_they_would_wait_too_long():
    queue = app.Queue(max_wait_seconds=1.0)
    assert not queue.full()
    queue.done(0.25)
    queue.waiting = 4
    assert not queue.full()  # 4 x 0.25 s: one second
    queue.waiting = 5
    assert queue.full()


def test_settings_are_read_from_the_file_and_checked(tmp_path):
    shipped = app.load_settings()
    assert shipped.idle_seconds > shipped.heartbeat_seconds and shipped.port == 8866
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump({"idle_seconds": 60, "max_visitors": 12}))
    assert app.load_settings(path, port=9000, max_visitors=None) == app.Settings(
        idle_seconds=60, max_visitors=12, port=9000
    )
    path.write_text(yaml.safe_dump({"idle_second": 60}))
    with pytest.raises(ValueError, match="unknown settings"):
        app.load_settings(path)
    with pytest.raises(ValueError, match="shorter than idle_seconds"):
        app.Settings(idle_seconds=10, heartbeat_seconds=10)
    with pytest.raises(ValueError, match="max_visitors"):
        app.Settings(max_visitors=0)


def test_the_ceiling_comes_from_the_memory_a_visit_costs(tmp_path):
    import psutil

    assert app.ceiling(replace(SETTINGS, max_visitors=7)) == (7, "set in params/app.yaml")
    report = tmp_path / "app_load.json"
    records.write_json(report, {"memory_per_visitor_mb": 50.0})
    limit, why = app.ceiling(SETTINGS, report)
    free = psutil.virtual_memory().available / 2**20
    assert limit == pytest.approx(0.5 * free / 50, rel=0.05) and "measured" in why
    unmeasured, why = app.ceiling(SETTINGS, tmp_path / "missing.json")
    assert unmeasured == pytest.approx(0.5 * free / app.resident_megabytes(), rel=0.1) and "whole process" in why
    assert np.isfinite(unmeasured) and unmeasured >= 1
