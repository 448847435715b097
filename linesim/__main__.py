"""Run the simulator: python -m linesim --port 9100 --channel-secret S --access-token T --webhook-url URL."""

from __future__ import annotations

import argparse
import os

from werkzeug.serving import WSGIRequestHandler, make_server

from . import create_app


class _QuietHandler(WSGIRequestHandler):
    """Log only failed requests: per-request logging costs too much under benchmarks."""

    def log_request(self, code="-", size="-"):
        if str(code)[:1] in ("4", "5"):
            super().log_request(code, size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m linesim",
        description="Local LINE platform simulator. Example: python -m linesim --port 9100 "
        "--channel-secret S --access-token T --webhook-url http://127.0.0.1:8000/callback",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--channel-secret", default=os.environ.get("LINE_CHANNEL_SECRET"))
    parser.add_argument("--access-token", default=os.environ.get("LINE_CHANNEL_ACCESS_TOKEN"))
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--log-requests", action="store_true", help="log every request, not only failures")
    args = parser.parse_args(argv)
    if not args.channel_secret or not args.access_token:
        parser.error(
            "--channel-secret and --access-token are required (or LINE_CHANNEL_SECRET / LINE_CHANNEL_ACCESS_TOKEN)"
        )
    app = create_app(args.channel_secret, args.access_token, args.webhook_url)
    handler = WSGIRequestHandler if args.log_requests else _QuietHandler
    server = make_server(args.host, args.port, app, threaded=True, request_handler=handler)
    print(f"linesim listening on http://{args.host}:{server.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
