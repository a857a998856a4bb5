#!/usr/bin/env python3
"""Loopback HTTP server for the network tests (stdlib only, never touches the internet).

Binds 127.0.0.1 on a free port and prints the port as the first line of stdout.
Exits by itself after --lifetime seconds so a crashed test can never hang CI.

Routes
  /<path>                      file under --root (plain static serving, Range supported)
  /slow/<n>?ms=<d>             n bytes, one every d ms (default 200), Content-Length declared
  /fail/<code>                 always answers <code>
  /flaky/<n>/<key>             503 for the first n requests of this path, then "ok"
  /big/<n>                     declares Content-Length n and streams n bytes
  /bigstream/<n>               streams n bytes without Content-Length (close-delimited)
  /nolength/<n>                n bytes of b"x" without Content-Length
  /redirect/<n>                302 chain of n hops ending at "done"
  /redirect-ftp                302 to ftp:// (must be refused)
  /badrange                    206 "bytes 0-9/10" whatever Range was asked (must be refused)
  /{org}/{repo}/resolve/main/{file}
                               fake Hugging Face hub over --hub-dir: LFS files (.safetensors,
                               .bin, .pth) answer 302 with X-Linked-Etag "<sha256>" and
                               X-Linked-Size to /blobs/<sha256>; other files answer 200 directly
  /corrupt/{org}/{repo}/resolve/main/{file}
                               same, but the LFS blob bytes do not match the announced SHA-256
  /longer/{org}/{repo}/resolve/main/{file}
                               same, but the LFS blob has 1000 bytes more than announced
  /renamed/<path>              307 to /<path> with an unrelated ETag (a renamed hub repo)
  /blobs/<sha256>[?corrupt=1|?longer=1]
                               the blob, with Range support (206 + Content-Range)
  /_hits/<path>                how many requests <path> received (plain integer)
  /_range/<path>               the Range header of the last request to <path> ("none")
"""
import argparse
import hashlib
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

LFS_SUFFIXES = (".safetensors", ".bin", ".pth")


class State:
    def __init__(self, root, hub_dir):
        self.root = os.path.realpath(root) if root else None
        self.lock = threading.Lock()
        self.hits = {}
        self.ranges = {}
        self.blobs = {}  # sha256 -> path
        self.hub = {}    # file name -> (path, sha256, size)
        if hub_dir:
            for name in sorted(os.listdir(hub_dir)):
                p = os.path.join(hub_dir, name)
                if not os.path.isfile(p):
                    continue
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                sha = h.hexdigest()
                self.hub[name] = (p, sha, os.path.getsize(p))
                self.blobs[sha] = p

    def record(self, path, rng):
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            self.ranges[path] = rng if rng else "none"
            return self.hits[path]


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # keep test output clean
            pass

        # ---- helpers
        def send_bytes(self, code, body, ctype="application/octet-stream", extra=None):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def send_close_delimited(self, total, chunk=b"x" * 65536):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            left = total
            while left > 0:
                part = chunk[: min(left, len(chunk))]
                self.wfile.write(part)
                left -= len(part)

        def send_file(self, path, corrupt=False, extra=0):
            size = os.path.getsize(path)
            start, end, code = 0, size - 1, 200
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                a, _, b = rng[6:].partition("-")
                try:
                    start = int(a) if a else 0
                    end = int(b) if b else size - 1
                except ValueError:
                    start, end = 0, size - 1
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                end = min(end, size - 1)
                code = 206
            with open(path, "rb") as f:
                f.seek(start)
                data = bytearray(f.read(end - start + 1))
            if corrupt and data:
                data[len(data) // 2] ^= 0xFF
            data += b"\0" * extra
            self.send_response(code)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Accept-Ranges", "bytes")
            if code == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(bytes(data))

        def redirect(self, location, extra=None):
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()

        def hub(self, parts, corrupt, longer=False):
            # parts: org, repo, "resolve", "main", file...
            if len(parts) < 5 or parts[2] != "resolve" or parts[3] != "main":
                return self.send_bytes(404, b"not found\n", "text/plain")
            name = "/".join(parts[4:])
            entry = state.hub.get(name)
            if entry is None:
                return self.send_bytes(404, b"Entry not found\n", "text/plain")
            path, sha, size = entry
            if name.endswith(LFS_SUFFIXES):
                loc = "/blobs/%s%s" % (sha, "?corrupt=1" if corrupt else "?longer=1" if longer else "")
                return self.redirect(loc, {"X-Linked-Etag": '"%s"' % sha,
                                           "X-Linked-Size": str(size),
                                           "ETag": '"%s"' % ("0" * 40)})
            return self.send_file(path)  # non-LFS files carry no SHA-256 to check

        # ---- dispatch
        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            try:
                self.route()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def route(self):
            url = urlsplit(self.path)
            path = url.path
            query = parse_qs(url.query)
            parts = [p for p in path.split("/") if p]
            if parts and parts[0] in ("_hits", "_range"):
                key = "/" + "/".join(parts[1:])
                with state.lock:
                    val = state.hits.get(key, 0) if parts[0] == "_hits" else state.ranges.get(key, "none")
                return self.send_bytes(200, str(val).encode(), "text/plain")
            n = state.record(path, self.headers.get("Range"))

            def arg(i, default=0):
                try:
                    return int(parts[i])
                except (IndexError, ValueError):
                    return default

            head = parts[0] if parts else ""
            if head == "slow":
                total, ms = arg(1, 20), int(query.get("ms", ["200"])[0])
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(total))
                self.end_headers()
                for _ in range(total):
                    self.wfile.write(b"s")
                    self.wfile.flush()
                    time.sleep(ms / 1000.0)
                return
            if head == "fail":
                return self.send_bytes(arg(1, 500), b"failure\n", "text/plain")
            if head == "flaky":
                if n <= arg(1, 1):
                    return self.send_bytes(503, b"try again\n", "text/plain")
                return self.send_bytes(200, b"ok", "text/plain")
            if head == "big":
                total = arg(1, 1 << 20)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(total))
                self.end_headers()
                chunk, left = b"b" * 65536, total
                while left > 0:
                    self.wfile.write(chunk[: min(left, 65536)])
                    left -= 65536
                return
            if head in ("bigstream", "nolength"):
                return self.send_close_delimited(arg(1, 1 << 20))
            if head == "redirect":
                hops = arg(1, 0)
                if hops <= 0:
                    return self.send_bytes(200, b"done", "text/plain")
                return self.redirect("/redirect/%d" % (hops - 1))
            if head == "badrange":  # ignores the asked Range but claims a partial answer
                return self.send_bytes(206, b"0123456789", extra={"Content-Range": "bytes 0-9/10"})
            if head == "redirect-ftp":
                return self.redirect("ftp://127.0.0.1/file")
            if head == "blobs" and len(parts) == 2 and parts[1] in state.blobs:
                return self.send_file(state.blobs[parts[1]], "corrupt" in query,
                                      1000 if "longer" in query else 0)
            if head == "renamed" and len(parts) >= 2:  # like a hub redirect of a renamed repo
                self.send_response(307)
                self.send_header("Location", "/" + "/".join(parts[1:]))
                self.send_header("ETag", '"%s"' % ("1" * 64))  # not the file's: must be ignored
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if head == "corrupt" and len(parts) >= 6:
                return self.hub(parts[1:], True)
            if head == "longer" and len(parts) >= 6:
                return self.hub(parts[1:], False, True)
            if len(parts) >= 5 and parts[2] == "resolve":
                return self.hub(parts, False)
            if state.root:
                full = os.path.realpath(os.path.join(state.root, *parts))
                if (full == state.root or full.startswith(state.root + os.sep)) and os.path.isfile(full):
                    return self.send_file(full)
            return self.send_bytes(404, b"not found\n", "text/plain")

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # clients that give up early (size limits, timeouts, cancel) are expected here
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help="directory served at /")
    ap.add_argument("--hub-dir", help="files served by the fake hub for every repo")
    ap.add_argument("--lifetime", type=float, default=300, help="exit after this many seconds")
    args = ap.parse_args()

    state = State(args.root, args.hub_dir)
    server = Server(("127.0.0.1", 0), make_handler(state))
    timer = threading.Timer(args.lifetime, lambda: os._exit(0))
    timer.daemon = True
    timer.start()
    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
