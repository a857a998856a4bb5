"""serve_util.py - shared helpers of the `fathom serve` end-to-end tests: the server as a child
process, HTTP and WebSocket clients, a live UDP sender, check() bookkeeping."""
import asyncio
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import numpy as np
import websockets

BIN = os.environ["FATHOM_BIN"]
GOLDEN = os.environ["FATHOM_GOLDEN"]
MODEL = os.path.join(GOLDEN, "tiny-hf", "model")
IMAGE = os.path.join(GOLDEN, "tiny-hf", "input.png")
T = tempfile.mkdtemp(prefix="fathom-serve-test-")
FAILS = []
ENV = dict(os.environ, HOME=T, XDG_CONFIG_HOME=os.path.join(T, "xdg"))


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f"  ({detail})"), flush=True)
    if not cond:
        FAILS.append(name)


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    """fathom serve as a child process; .url is read from its first stdout line."""

    def __init__(self, *args, listen="127.0.0.1:0", config=None, model=None, input_size=56):
        cmd = [BIN, "serve", "--model", model or MODEL, "--listen", listen, "--threads", "1",
               "--input-size", str(input_size)]
        cmd += ["--config", config] if config else ["--no-config"]
        self.err = open(os.path.join(T, f"serve-{time.monotonic_ns()}.err"), "w+")
        self.p = subprocess.Popen(cmd + list(args), stdout=subprocess.PIPE, stderr=self.err,
                                  text=True, env=ENV)
        line = self.p.stdout.readline()
        if not line.startswith("listening on http://"):
            raise RuntimeError(f"first stdout line: {line!r}, stderr: {self.stderr()}")
        self.url = line.split()[-1].rstrip("/")
        self.port = int(self.url.rsplit(":", 1)[1])
        self.token = None

    def read_token(self):
        line = self.p.stdout.readline()
        self.token = line.split()[-1] if line.startswith("token: ") else None
        return self.token

    def stderr(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def stop(self, sig=signal.SIGTERM):
        t = time.monotonic()
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
            return None, time.monotonic() - t
        return rc, time.monotonic() - t


def http(url, method="GET", data=None, headers=None, timeout=30):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def parse_msg(b):
    n = struct.unpack("<I", b[:4])[0]
    h = json.loads(b[4:4 + n])
    payload = b[4 + n:]
    return h, payload


async def ws_frames(url, n, timeout=60, extra=None):
    out = []
    async with websockets.connect(url, max_size=2**26, open_timeout=30) as ws:
        end = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < end:
            m = await asyncio.wait_for(ws.recv(), timeout=end - time.monotonic())
            if isinstance(m, bytes):
                out.append(parse_msg(m))
        if extra:
            await extra(ws)
    return out


def start_sender(port, seconds=600):
    return subprocess.Popen(
        ["ffmpeg", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
         "testsrc=size=320x240:rate=30", "-t", str(seconds), "-c:v", "mpeg2video", "-q:v", "5",
         "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316"],
        stdin=subprocess.DEVNULL)


def wait_for(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.2)
    return False


def status(srv, **kw):
    code, body, _ = http(srv.url + "/v1/status", **kw)
    return json.loads(body) if code == 200 else None
