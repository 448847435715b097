"""Oversized request bodies against a real gunicorn, and a process's memory from /proc (tests and bench)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

MiB = 1024 * 1024


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def worker_pid(master: int) -> int:
    deadline = time.time() + 30
    while time.time() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise TimeoutError("no gunicorn worker")


def send_huge(port: int, total: int, chunked: bool) -> tuple[int | None, int]:
    """Stream `total` bytes of garbage as a POST /callback; (status the server answered, bytes sent)."""
    head = "POST /callback HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Line-Signature: AAAA\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {total}\r\n\r\n"
    piece = b"x" * MiB
    if chunked:
        piece = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent = 0
    status = None
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        sock.settimeout(0.0)
        try:
            while sent < total:
                try:
                    data = sock.recv(4096)
                    if data:
                        status = int(data.split(b" ", 2)[1])
                        break
                except BlockingIOError:
                    pass
                sock.settimeout(30)
                sock.sendall(piece)
                sock.settimeout(0.0)
                sent += MiB
        except (BrokenPipeError, ConnectionResetError):
            pass
        if status is None:
            sock.settimeout(10)
            try:
                data = sock.recv(4096)
                status = int(data.split(b" ", 2)[1]) if data else None
            except OSError:
                status = None
    return status, sent
