"""serve_e2e.py - end-to-end checks of `fathom serve` (run by test_serve_cli.sh).

Real binary, real sockets: ffmpeg sends a live MPEG-TS stream over UDP on loopback; clients are
Python websockets, urllib and raw sockets. Each check prints ok/FAIL; exit 1 on any failure.
"""
import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import websockets

from serve_util import *  # noqa: F401,F403 (BIN, Server, check, http, ws_frames, ...)
from serve_util import FAILS, T


# ------------------------------------------------------------------ 1. live UDP source + WebSocket
udp = free_udp_port()
sender = start_sender(udp)
srv = Server("--source", f"udp://127.0.0.1:{udp}")
ws_url = srv.url.replace("http://", "ws://") + "/v1/stream"
try:
    check("live: frames analysed from the UDP stream",
          wait_for(lambda: (status(srv) or {}).get("analyser", {}).get("frames", 0) >= 3, 90),
          srv.stderr()[-2000:])
    frames = asyncio.run(ws_frames(ws_url, 5))
    check("ws: 5 binary frames arrive", len(frames) == 5, len(frames))
    if frames:
        h, pl = frames[0]
        check("ws: shape is the stream's 240x320", (h["height"], h["width"]) == (240, 320), h)
        check("ws: uint16 payload of height*width", len(pl) == 2 * h["width"] * h["height"] and h["dtype"] == "uint16", len(pl))
        ids = [f[0]["id"] for f in frames]
        check("ws: frame ids increase", all(b > a for a, b in zip(ids, ids[1:])), ids)
        lat = [f[0]["send_ts"] - f[0]["capture_ts"] for f in frames]
        check("ws: latency reported (0 <= send - capture < 30 s)", all(0 <= x < 30 for x in lat), lat)
        check("ws: header has pts, min <= max, units", all("pts_us" in f[0] and f[0]["min"] <= f[0]["max"] and f[0]["units"] for f in frames))
        d = np.frombuffer(pl, dtype="<u2")
        check("ws: depth payload spans the range", d.min() == 0 and d.max() == 65535, (d.min(), d.max()))
    f32 = asyncio.run(ws_frames(ws_url + "?dtype=float32", 1))
    if f32:
        h, pl = f32[0]
        arr = np.frombuffer(pl, dtype="<f4")
        check("ws float32: raw depth within the header's min..max",
              arr.size == h["width"] * h["height"] and abs(arr.min() - h["min"]) < 1e-5 * max(1, abs(h["min"])) and abs(arr.max() - h["max"]) < 1e-5 * max(1, abs(h["max"]))),
    else:
        check("ws float32: a frame arrives", False)

    # live changes while connected: WS control message and HTTP PATCH
    async def live(ws):
        await ws.send(json.dumps({"colormap": "turbo"}))
        reply = None
        got_after = 0
        end = time.monotonic() + 60
        while time.monotonic() < end and (reply is None or got_after < 3):
            m = await asyncio.wait_for(ws.recv(), timeout=end - time.monotonic())
            if isinstance(m, str):
                reply = json.loads(m)
                code, body, _ = http(srv.url + "/v1/config", "PATCH", json.dumps({"invert": True, "input_size": 70}).encode())
                check("patch: HTTP PATCH while a client is connected -> 200", code == 200, body)
            elif reply is not None:
                got_after += 1
        check("ws control: reply carries the new config", reply and reply.get("config", {}).get("colormap") == "turbo", reply)
        check("ws control: frames keep coming after live changes", got_after >= 3, got_after)
        await ws.send("{not json")
        m = await asyncio.wait_for(ws.recv(), 30)
        while isinstance(m, bytes):
            m = await asyncio.wait_for(ws.recv(), 30)
        check("ws control: malformed message -> error reply, connection kept", "error" in json.loads(m), m)
        m = await asyncio.wait_for(ws.recv(), 30)
        check("ws control: still streaming after the error", m is not None)
    asyncio.run(ws_frames(ws_url, 1, extra=live))
    code, body, _ = http(srv.url + "/v1/config")
    cfg = json.loads(body)
    check("config: GET shows live changes", cfg["colormap"] == "turbo" and cfg["invert"] is True and cfg["input_size"] == 70, cfg)

    # MJPEG
    with urllib.request.urlopen(srv.url + "/v1/mjpeg", timeout=30) as r:
        ctype = r.headers["Content-Type"]
        data = b""
        while data.count(b"\xff\xd9") < 2 and len(data) < 5_000_000:
            data += r.read1(65536)
    check("mjpeg: multipart stream of JPEGs", ctype.startswith("multipart/x-mixed-replace") and data.count(b"\xff\xd8\xff") >= 2, ctype)

    # malformed requests: 4xx and a log line, server alive
    for name, args, want in [
        ("patch bad JSON", (srv.url + "/v1/config", "PATCH", b"{oops"), 400),
        ("patch unknown key", (srv.url + "/v1/config", "PATCH", b'{"nope":1}'), 400),
        ("patch bad value", (srv.url + "/v1/config", "PATCH", b'{"input_size":-5}'), 400),
        ("patch wrong type", (srv.url + "/v1/config", "PATCH", b'{"colormap":[1]}'), 400),
        ("unknown endpoint", (srv.url + "/nope",), 404),
        ("POST garbage image", (srv.url + "/v1/depth", "POST", b"not an image at all"), 400),
        ("POST empty", (srv.url + "/v1/depth", "POST", b""), 400),
        ("POST bad format", (srv.url + "/v1/depth?format=gif", "POST", b"x"), 400),
        ("DELETE", (srv.url + "/v1/config", "DELETE"), 405),
        ("stream without upgrade", (srv.url + "/v1/stream",), 400),
    ]:
        code, body, _ = http(*args)
        check(f"malformed: {name} -> {want}", code == want, (code, body[:200]))
    check("malformed: log lines name the cause", "unknown setting 'nope'" in srv.stderr())
    st = status(srv)
    check("status: counts bad requests; server alive", st and st["http"]["bad_requests"] >= 10, st and st["http"])

    # metrics
    code, body, _ = http(srv.url + "/metrics")
    text = body.decode()
    check("metrics: Prometheus text with fps, drops, clients, latency histogram",
          code == 200 and 'fathom_serve_fps{stage="analyser"}' in text and "fathom_serve_dropped_total" in text
          and 'fathom_serve_latency_seconds_bucket{le="+Inf"}' in text and "fathom_serve_clients" in text, text[:300])

    # 50 clients at once
    async def many(n):
        return await asyncio.gather(*[ws_frames(ws_url, 2, timeout=120) for _ in range(n)], return_exceptions=True)
    res = asyncio.run(many(50))
    good = sum(1 for r in res if isinstance(r, list) and len(r) == 2)
    check("load: 50 WebSocket clients each get frames", good == 50, [r for r in res if not isinstance(r, list)][:3])

    # a client that never reads must not stall the others
    raw = socket.create_connection(("127.0.0.1", srv.port))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.sendall(b"GET /v1/stream?dtype=float32 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    time.sleep(3)
    before = status(srv)["sinks"]["ws_dropped"]
    t0 = time.monotonic()
    fr = asyncio.run(ws_frames(ws_url, 10, timeout=120))
    check("slow client: another client still gets 10 frames", len(fr) == 10, len(fr))
    after = status(srv)["sinks"]["ws_dropped"]
    check("slow client: its frames are dropped (counted)", after > before, (before, after))
    raw.close()

    # source dies and comes back
    opens = status(srv)["source"]["opens"]
    sender.terminate()
    sender.wait()
    # a live input silent for 5 s counts as dead: reported, then reopened until it is back
    check("source: a dead stream is reported",
          wait_for(lambda: status(srv)["source"]["errors"] > 0 and "error" in status(srv)["source"]["state"], 60),
          status(srv)["source"])
    sender = start_sender(udp)
    n0 = status(srv)["analyser"]["frames"]
    check("source: stream back after the sender restarts",
          wait_for(lambda: status(srv)["analyser"]["frames"] > n0 + 5, 120), status(srv)["source"])
    check("source: reopened (opens counted)", status(srv)["source"]["opens"] > opens, status(srv)["source"])

    # shutdown with clients connected and frames in flight
    async def hold_and_stop():
        async with websockets.connect(ws_url, max_size=2**26) as ws:
            await ws.recv()
            rc_t = await asyncio.get_event_loop().run_in_executor(None, srv.stop)
            closed = None
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            except websockets.exceptions.ConnectionClosed as e:
                closed = e.rcvd.code if e.rcvd else None
            return rc_t, closed
    (rc, secs), closed = asyncio.run(hold_and_stop())
    check("shutdown: SIGTERM with a client -> exit 0", rc == 0, rc)
    check("shutdown: within 2 s", secs < 2.0, secs)
    check("shutdown: the client got a close frame (1001)", closed == 1001, closed)
finally:
    if srv.p.poll() is None:
        srv.p.kill()
    sender.terminate()

# ------------------------------------------------------------------ 2. POST /v1/depth == fathom run
srv = Server()
try:
    out = os.path.join(T, "run")
    r = subprocess.run([BIN, "run", "--model", MODEL, "--input-size", "56", "--threads", "1", "-f", "npy,png16,color",
                        "-o", out, IMAGE], capture_output=True, text=True)
    check("post: fathom run reference exits 0", r.returncode == 0, r.stderr)
    body = open(IMAGE, "rb").read()
    code, npy, h = http(srv.url + "/v1/depth?format=npy", "POST", body)
    a = np.load(io.BytesIO(npy)) if code == 200 else None
    ref = np.load(os.path.join(out, "input.npy"))
    check("post: npy equals fathom run (same shape, max |diff| <= 1e-6 x range)",
          a is not None and a.shape == ref.shape and np.abs(a - ref).max() <= 1e-6 * (ref.max() - ref.min()),
          (code, None if a is None else (a.shape, ref.shape, float(np.abs(a - ref).max()))))
    code, png, h = http(srv.url + "/v1/depth", "POST", body, headers={"Accept": "image/png"})
    refc = open(os.path.join(out, "input_color.png") if os.path.exists(os.path.join(out, "input_color.png")) else
                [os.path.join(out, f) for f in os.listdir(out) if "color" in f][0], "rb").read()
    check("post: Accept image/png -> color PNG equal to fathom run's", code == 200 and png == refc, (code, len(png), len(refc)))
    code, png16, h = http(srv.url + "/v1/depth?format=png16", "POST", body)
    ref16 = open(os.path.join(out, "input.png"), "rb").read()
    check("post: ?format=png16 equals fathom run's", code == 200 and png16 == ref16 and h.get("Content-Type") == "image/png", (code, len(png16), len(ref16)))
    # a source set live on a POST-only worker starts streaming without a restart
    clip0 = os.path.join(T, "live.mp4")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=176x144:rate=30",
                    "-t", "2", clip0], check=True)
    code, body, _ = http(srv.url + "/v1/config", "PATCH", json.dumps({"source": clip0, "loop": True, "realtime": True}).encode())
    check("live source: PATCH source on a POST-only worker -> 200", code == 200, body)
    fr = asyncio.run(ws_frames(srv.url.replace("http://", "ws://") + "/v1/stream", 2))
    check("live source: frames of the new source stream", len(fr) == 2 and (fr[0][0]["width"], fr[0][0]["height"]) == (176, 144),
          [f[0] for f in fr])
    # a stalled MJPEG reader must not hold up shutdown
    stalled = socket.create_connection(("127.0.0.1", srv.port))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(b"GET /v1/mjpeg HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(2)
    rc, secs = srv.stop(signal.SIGINT)
    stalled.close()
    check("shutdown: with a stalled MJPEG reader within 2 s", secs < 2.0, secs)
    check("shutdown: SIGINT -> exit 0", rc == 0, rc)
finally:
    if srv.p.poll() is None:
        srv.p.kill()

# ------------------------------------------------------------------ 3. limits, token, config file
srv = Server("--max-body", "1k")
try:
    code, body, _ = http(srv.url + "/v1/depth", "POST", open(IMAGE, "rb").read())
    check("limits: body over --max-body -> 413", code == 413, code)
finally:
    srv.stop()

srv = Server(listen="0.0.0.0:0")
try:
    tok = srv.read_token()
    check("token: generated and printed for a non-loopback address", tok is not None and len(tok) >= 16, tok)
    base = f"http://127.0.0.1:{srv.port}"
    code, _, _ = http(base + "/v1/status")
    check("token: missing -> 401", code == 401, code)
    code, _, _ = http(base + "/v1/status", headers={"Authorization": "Bearer wrong"})
    check("token: wrong -> 401", code == 401, code)
    code, _, _ = http(base + "/v1/status", headers={"Authorization": f"Bearer {tok}"})
    check("token: Bearer -> 200", code == 200, code)
    code, _, _ = http(base + f"/metrics?token={tok}")
    check("token: ?token= -> 200", code == 200, code)
    code, _, _ = http(base + "/", headers={})
    check("token: viewer also needs it -> 401", code == 401, code)

    async def ws_try(url):
        try:
            async with websockets.connect(url, open_timeout=30):
                return "open"
        except websockets.exceptions.InvalidStatusCode as e:
            return e.status_code
    check("token: WebSocket without token -> 401", asyncio.run(ws_try(f"ws://127.0.0.1:{srv.port}/v1/stream")) == 401)
    check("token: WebSocket with ?token= opens", asyncio.run(ws_try(f"ws://127.0.0.1:{srv.port}/v1/stream?token={tok}")) == "open")
finally:
    srv.stop()

srv = Server(listen="0.0.0.0:0", *["--token", "s3cret"])
try:
    code, _, _ = http(f"http://127.0.0.1:{srv.port}/v1/status", headers={"Authorization": "Bearer s3cret"})
    check("token: --token accepted", code == 200, code)
finally:
    srv.stop()

cfg_path = os.path.join(T, "cfg", "serve.yaml")
srv = Server(config=cfg_path)
try:
    text = open(cfg_path).read() if os.path.exists(cfg_path) else ""
    check("config file: written on first run with comments", "colormap: spectral_r" in text and text.count("#") >= 10, text[:200])
    with open(cfg_path, "w") as f:
        f.write(text.replace("colormap: spectral_r", "colormap: inferno").replace("max_res: 640", "max_res: 320"))
    srv.p.send_signal(signal.SIGHUP)
    ok = wait_for(lambda: json.loads(http(srv.url + "/v1/config")[1])["colormap"] == "inferno", 20)
    check("config file: SIGHUP reloads it", ok, http(srv.url + "/v1/config")[1])
    with open(cfg_path, "w") as f:
        f.write("colormap: [unclosed\n")
    srv.p.send_signal(signal.SIGHUP)
    time.sleep(1)
    check("config file: a broken file on SIGHUP keeps the settings", json.loads(http(srv.url + "/v1/config")[1])["colormap"] == "inferno")
    check("config file: broken file logged", "not reloaded" in srv.stderr(), srv.stderr()[-500:])
finally:
    srv.stop()
code = subprocess.run([BIN, "serve", "--model", MODEL, "--config", cfg_path], capture_output=True, text=True, env=ENV)
check("config file: broken at start -> exit 2 naming the file", code.returncode == 2 and cfg_path in code.stderr, code.stderr)
code = subprocess.run([BIN, "serve", "--model", MODEL, "--no-config", "--listen", "nohost"], capture_output=True, text=True, env=ENV)
check("usage: bad --listen -> exit 2", code.returncode == 2 and "--listen" in code.stderr, code.stderr)

# ------------------------------------------------------------------ 4. start/stop many times
clip = os.path.join(T, "clip.mp4")
subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30",
                "-t", "2", clip], check=True)
# a file without --realtime is not live: every frame is analysed, none dropped
s = Server("--source", clip)
try:
    n_src = int(subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                                "stream=nb_read_frames", "-of", "csv=p=0", clip], capture_output=True, text=True).stdout.strip() or 0)
    ended = wait_for(lambda: status(s)["source"]["state"].startswith("ended"), 120)
    # "ended" comes with the last frame handed over; its analysis may still be running
    wait_for(lambda: status(s)["analyser"]["frames"] >= n_src, 30)
    st = status(s)
    check("file as fast as possible: every frame analysed, none dropped",
          ended and st["analyser"]["frames"] == n_src == st["source"]["frames"] and st["analyser"]["dropped"] == 0,
          (n_src, st["source"], st["analyser"]))
finally:
    s.stop()

N = int(os.environ.get("FATHOM_SERVE_CYCLES", "20"))
bad_rc, slow = [], []
for i in range(N):
    s = Server("--source", clip, "--realtime", "--loop")
    try:
        async def one():
            async with websockets.connect(s.url.replace("http", "ws") + "/v1/stream", open_timeout=30) as ws:
                await asyncio.wait_for(ws.recv(), 60)
                rc, secs = await asyncio.get_event_loop().run_in_executor(None, s.stop)
                return rc, secs
        rc, secs = asyncio.run(one())
    except Exception as e:  # noqa: BLE001 - report, go on
        rc, secs = repr(e), 0
        s.p.kill()
    if rc != 0:
        bad_rc.append((i, rc, s.stderr()[-300:]))
    if secs >= 2.0:
        slow.append((i, secs))
check(f"cycles: {N} start/stop with a connected client all exit 0", not bad_rc, bad_rc[:2])
check(f"cycles: every stop within 2 s", not slow, slow[:3])

print(f"{len(FAILS)} failed" if FAILS else "all passed")
subprocess.run(["rm", "-rf", T])
sys.exit(1 if FAILS else 0)
