"""Reports: time to receipt with a 3 MB photo, and Open311 requests.json with 10,000 reports.

Usage: .venv/bin/python bench/bench_reports.py [--reports 30] [--queries 200]
The whole dialogue goes through the real path: signed webhooks into the app (answering in the
request), the real line-bot-sdk fetching the photo from linesim's content API and replying to
linesim. Throwaway SQLite files and media directory in a temp directory; touches nothing else.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from bot.runtime import runtime

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from PIL import Image  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

import linesim  # noqa: E402
from devtools.events import image_event, location_event, post_events, postback_event, text_event  # noqa: E402
from store import reports as report_store  # noqa: E402

SECRET, TOKEN = "bench-secret", "bench-token"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def three_mb_photo() -> bytes:
    """A phone-like JPEG of about 3 MB (noise compresses badly, as a detailed street scene does)."""
    side = 2150
    img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80, exif=exif)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=30)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    sim_app = linesim.create_app(SECRET, TOKEN, None)
    server = make_server("127.0.0.1", 0, sim_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sim = f"http://127.0.0.1:{server.server_port}"
    http = requests.Session()

    from webhook import create_app

    app = create_app(
        {
            "TESTING": True,
            "LINE_CHANNEL_SECRET": SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
            "LINE_API_BASE_URL": sim,
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "SECRET_KEY": "bench",
            "WEBHOOK_ASYNC": False,
            "MEDIA_DIR": str(tmp / "media"),
            "REPORTS_PER_DAY": 0,  # no daily limit for one bench user per report anyway
            "MADOGUCHI_SEMANTIC": "0",
        }
    )
    client = app.test_client()
    photo = three_mb_photo()

    def token(user: str) -> str:
        return http.post(f"{sim}/_emulator/reply-tokens", json={"userId": user}).json()["replyToken"]

    def post(user: str, event) -> float:
        started = time.perf_counter()
        assert post_events(client, [event], secret=SECRET).status_code == 200
        return (time.perf_counter() - started) * 1000

    def last_reply(user: str) -> dict:
        msgs = http.get(f"{sim}/_emulator/messages", params={"to": user, "kind": "reply"}).json()["messages"]
        return msgs[-1]["message"]

    def data_of(reply: dict, label: str) -> str:
        return next(i["action"]["data"] for i in reply["quickReply"]["items"] if i["action"].get("label") == label)

    totals, photo_steps = [], []
    for i in range(args.reports + 2):  # two warm-up rounds (imports, first connections)
        user = f"Ubench{i:026d}"
        mid = f"9{i:017d}"
        http.put(f"{sim}/_emulator/content/{mid}", data=photo, headers={"Content-Type": "image/jpeg"})
        t_photo = post(user, image_event(user, token(user), mid))
        t = t_photo + post(user, location_event(user, token(user), 35.7013, 139.6489))
        t += post(user, postback_event(user, data_of(last_reply(user), "道路・歩道の損傷"), token(user)))
        t += post(user, text_event(user, "歩道に穴があります", token(user)))
        t += post(user, postback_event(user, data_of(last_reply(user), "送信する"), token(user)))
        assert "受付番号" in last_reply(user)["text"], last_reply(user)
        if i >= 2:
            totals.append(t)
            photo_steps.append(t_photo)
    print(f"photo size: {len(photo) / 1e6:.2f} MB (JPEG, EXIF), {args.reports} reports")
    print(
        f"time to receipt (5 webhooks, bot's own handling): p50 {statistics.median(totals):.0f} ms,"
        f" p99 {pct(totals, 99):.0f} ms, max {max(totals):.0f} ms"
    )
    print(
        f"  of which the photo (content API + verify + re-encode + store): p50 {statistics.median(photo_steps):.0f} ms,"
        f" p99 {pct(photo_steps, 99):.0f} ms"
    )

    # Open311 with 10,000 reports over the last 120 days.
    db = runtime(app).store.db
    now = time.time()
    kinds = [("road", "道路・歩道の損傷"), ("light", "街路灯・防犯灯"), ("park", "公園・遊具"), ("dumping", "不法投棄")]
    statuses = ["received", "in_progress", "done", "rejected"]
    rows = []
    for i in range(10_000 - args.reports - 2):
        code, name = kinds[i % 4]
        rows.append(
            {
                "kind": code,
                "kind_name": name,
                "status": statuses[(i // 4) % 4],
                "lat": 35.69 + (i % 97) / 4000,
                "lon": 139.63 + (i % 89) / 3000,
                "area_code": "midori-1",
                "description": "説明" * 10,
                "description_public": i % 3 == 0,
                "created_at": now - (i / 10_000) * 120 * 86400,
                "photos": [{"full": f"{i:032d}a.jpg", "thumb": f"{i:032d}b.jpg"}] if i % 2 else [],
            }
        )
    report_store.insert_reports(db, rows)
    total = report_store.count_reports(db)
    queries = {
        "requests.json (last 90 days, up to 1000)": "/open311/v2/requests.json",
        "?service_code=road&status=open": "/open311/v2/requests.json?service_code=road&status=open",
        "?start_date&end_date (one week)": "/open311/v2/requests.json?start_date="
        + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 14 * 86400))
        + "&end_date="
        + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 7 * 86400)),
        "requests/{id}.json": "/open311/v2/requests/5000.json",
    }
    print(f"Open311 with {total:,} reports ({args.queries} requests each, Flask test client, one thread):")
    for label, path in queries.items():
        times, size, n = [], 0, 0
        for _ in range(args.queries):
            started = time.perf_counter()
            resp = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            assert resp.status_code == 200
            size, n = len(resp.data), len(resp.get_json())
        print(
            f"  {label}: {n} requests, {size / 1024:.0f} KB — p50 {statistics.median(times):.1f} ms,"
            f" p99 {pct(times, 99):.1f} ms"
        )
    server.shutdown()


if __name__ == "__main__":
    main()
