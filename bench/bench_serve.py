"""bench_serve.py - `fathom serve` figures for bench/RESULTS.md (loaded machines: record load).

  FATHOM_BIN=build/fathom FATHOM_GOLDEN=../shared/golden /usr/bin/python3 bench/bench_serve.py

1. latency at a 30 fps realtime file source (640x360), tiny model at input size $SIZE (default
   112) on the CPU, with 1 and with 50 WebSocket clients, in alternating rounds (LAT_ROUNDS, 6,
   of LAT_SECS, 15 s each): capture-to-receive at one measured client (a Python websockets
   client; its receive time on the host clock minus the frame's capture_ts), p50/p99 pooled over
   rounds, the growth of p99 from 1 to 50 clients (goal <= 10 %), and the median of the
   per-pair growths. The 49 other clients are raw sockets in a separate process that read every
   byte and parse nothing (see drain()), run at nice LOAD_NICE (19): in a deployment they are
   other machines, so their own CPU should not be taken from the server's 2 cores here. Each
   frame's latency is split at send_ts (message made): capture-to-made is the pipeline, made-to-
   receive the write path and the client;
2. fps ceiling with ViT-S (golden vits-pth weights) at input size 518, source as fast as possible;
3. serving overhead (goal <= 5 %): frames/s of `fathom run` on 600 extracted frames (its
   report's rate: process start and model load left out) vs `fathom serve`'s analyser on the
   same clip as fast as possible (tiny model, same input size and threads), in ROUNDS (7)
   interleaved rounds, medians; PARTS=overhead_vits: the same with ViT-S at 518 (2 rounds).

PARTS (default latency,vits,overhead) picks the parts.
"""
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

BIN, G = os.environ["FATHOM_BIN"], os.environ["FATHOM_GOLDEN"]
TINY, VITS = os.path.join(G, "tiny-hf", "model"), os.path.join(G, "vits-pth", "model.pth")
THREADS = os.environ.get("THREADS", "1")
SIZE = os.environ.get("SIZE", "112")        # tiny-model input size for latency and overhead
VITS_SIZE = os.environ.get("VITS_SIZE", "518")
T = tempfile.mkdtemp(prefix="fathom-bench-serve-")


def serve(*args):
    p = subprocess.Popen([BIN, "serve", "--no-config", "--listen", "127.0.0.1:0", "--threads", THREADS, *args],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return p, p.stdout.readline().split()[-1].rstrip("/")


def status(url):
    return json.loads(urllib.request.urlopen(url + "/v1/status", timeout=60).read())


def clip(name, size, rate, secs):
    path = os.path.join(T, name)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}",
                    "-t", str(secs), path], check=True)
    return path


async def client(url, secs, lat, made=None):
    async with websockets.connect(url, max_size=2**26) as ws:
        end = time.monotonic() + secs
        while time.monotonic() < end:
            m = await asyncio.wait_for(ws.recv(), 60)
            now = time.time()
            if isinstance(m, bytes) and lat is not None:
                n = int.from_bytes(m[:4], "little")
                h = json.loads(m[4:4 + n])
                lat.append(now - h["capture_ts"])
                made.append(h["send_ts"] - h["capture_ts"])  # send_ts: when the message was made


def load_clients(url, n, secs):
    """The extra clients, in their own process (python3 bench_serve.py --load URL N SECS)."""
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--load", url, str(n), str(secs)],
                            preexec_fn=lambda: os.nice(LOAD_NICE))


def drain(url, n, secs):
    """n WebSocket clients that read every byte and parse nothing: a real client's socket load
    on the server (the same bytes leave it) at little CPU here, so on 2 cores the benchmark's
    clients do not starve the server or the measured client (49 Python websockets clients
    decoding 460 kB messages 30 times a second would load the 2 cores the server runs on)."""
    import base64
    import selectors
    import socket
    host, port = url.split("//")[1].split("/")[0].split(":")
    sel, buf = selectors.DefaultSelector(), bytearray(1 << 20)
    for _ in range(n):
        sk = socket.create_connection((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        sk.sendall(f"GET /v1/stream HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sk.recv(1)
        assert b" 101 " in head.split(b"\r\n")[0], head
        sk.setblocking(False)
        sel.register(sk, selectors.EVENT_READ)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        for k, _ in sel.select(0.5):
            try:
                k.fileobj.recv_into(buf)
            except BlockingIOError:
                pass


def thread_cpu(pid):
    """CPU seconds (user + system) of each of the server's threads, summed by thread name
    (sv-analyser, sv-ws-loop, ...; libmicrohttpd's polling threads keep the process name)."""
    out, hz = {}, os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            f = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = out.get(name, 0) + (int(f[11]) + int(f[12])) / hz
    return out


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1e3


LOAD_NICE = int(os.environ.get("LOAD_NICE", "19"))


def latency(n_clients, secs=float(os.environ.get("LAT_SECS", "15"))):
    src = clip("c30.mp4", "640x360", 30, 60)
    p, url = serve("--model", TINY, "--input-size", SIZE, "--source", src, "--realtime", "--loop",
                   "--max-clients", "200")
    time.sleep(3)
    lat, made = [], []
    ws = url.replace("http", "ws") + "/v1/stream"
    others = load_clients(ws, n_clients - 1, secs + 4) if n_clients > 1 else None
    if others:
        time.sleep(3)  # connected before the measured client starts
    c0, a0 = thread_cpu(p.pid), status(url)["analyser"]["frames"]
    asyncio.run(client(ws, secs, lat, made))
    st, c1 = status(url), thread_cpu(p.pid)
    nf = max(1, st["analyser"]["frames"] - a0)
    cpu = {k: 1e3 * (c1[k] - c0.get(k, 0)) / nf for k in c1 if c1[k] - c0.get(k, 0) > 0}
    if others:
        others.wait()
    p.send_signal(signal.SIGTERM)
    p.wait()
    return lat, made, {"clients": n_clients, "frames": len(lat), "recv_p50_ms": pct(lat, 0.5),
                       "recv_p99_ms": pct(lat, 0.99), "ws_clients": st["sinks"]["ws_clients"],
                       "server_sent_p99_ms_le": st["latency"]["p99_ms_le"],
                       "analyser_fps": round(st["analyser"]["fps"], 1), "ws_dropped": st["sinks"]["ws_dropped"],
                       "cpu_ms_per_frame": {k: round(v, 2) for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])}}


def latency_ab(rounds=int(os.environ.get("LAT_ROUNDS", "6"))):
    """1 and 50 clients in alternating rounds (1, 50, 1, 50, ...) so both see the same load; the
    figure is capture-to-receive at the one measured client (a Python websockets client: its
    receive time on the host clock minus the frame's capture_ts), pooled over rounds, split at
    the message's making (send_ts) into the pipeline's part and the write path's."""
    pooled = {1: ([], []), 50: ([], [])}
    pairs = []
    for r in range(rounds):
        p99 = {}
        for n in (1, 50):
            lat, made, info = latency(n)
            pooled[n][0].extend(lat)
            pooled[n][1].extend(made)
            p99[n] = pct(lat, 0.99)
            print(f"  round {r + 1}, {n} clients: {info}, load {os.getloadavg()[0]:.1f}", flush=True)
        pairs.append(100 * (p99[50] / p99[1] - 1))
    res = {}
    for n, (lat, made) in pooled.items():
        wire = [a - b for a, b in zip(lat, made)]  # message made -> received
        res[n] = pct(lat, 0.99)
        print(f"{n} client(s): capture-to-receive p50 {pct(lat, 0.5):.1f} ms, p99 {res[n]:.1f} ms; "
              f"capture-to-made p50 {pct(made, 0.5):.1f} p99 {pct(made, 0.99):.1f} ms; made-to-receive "
              f"p50 {pct(wire, 0.5):.1f} p99 {pct(wire, 0.99):.1f} ms ({len(lat)} frames)", flush=True)
    print(f"p99 growth 1 -> 50 clients: {100 * (res[50] / res[1] - 1):+.1f} % pooled, "
          f"{statistics.median(pairs):+.1f} % median of {rounds} round pairs "
          f"({', '.join(f'{x:+.0f}' for x in pairs)}) (goal <= +10 %)", flush=True)


def ceiling(model, size, secs):
    src = clip("c.mp4", "640x360", 30, 10)
    p, url = serve("--model", model, "--input-size", str(size), "--source", src, "--loop")
    time.sleep(5)
    a0, t0 = status(url)["analyser"]["frames"], time.monotonic()
    time.sleep(secs)
    a1, t1 = status(url)["analyser"]["frames"], time.monotonic()
    p.send_signal(signal.SIGTERM)
    p.wait()
    return (a1 - a0) / (t1 - t0)


def overhead(model=TINY, n=600, size=int(SIZE), secs=0, rounds=int(os.environ.get("ROUNDS", "7"))):
    """Frames/s of `fathom run` on n extracted frames vs serve's analyser kept busy (a looping
    file source, as fast as possible) over secs (0: as long as the run took), in interleaved rounds (run, serve, run, ...)
    so both sides see the same load; returns the median of each side and the per-round
    overheads."""
    tag = f"{os.path.basename(model)}-{size}"
    src = clip(f"o-{tag}.mp4", "640x360", 30, n / 30)
    frames = os.path.join(T, "frames-" + tag)
    os.makedirs(frames)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", src, os.path.join(frames, "f%04d.png")], check=True)
    runs, serves, busy = [], [], []
    for r in range(rounds):
        # the run's own rate from its report (process start and model load left out, as serve's
        # analyser rate leaves them out)
        rep = os.path.join(T, f"run-{tag}.json")
        subprocess.run([BIN, "run", "--model", model, "--input-size", str(size), "--threads", THREADS,
                        "--batch", "1", "--progress", "none", "--report", rep, "-o", os.path.join(T, f"out-{tag}-{r}"),
                        frames], check=True, stderr=subprocess.DEVNULL)
        rj = json.load(open(rep))
        runs.append(rj["totals"]["items_per_s"])
        run_busy = rj["stages"]["infer"]["busy_s"] / rj["stages"]["infer"]["items"]
        subprocess.run(["rm", "-rf", os.path.join(T, f"out-{tag}-{r}")])
        p, url = serve("--model", model, "--input-size", str(size), "--source", src, "--loop")
        time.sleep(2)
        j0, t0 = status(url), time.monotonic()
        time.sleep(secs if secs else n / runs[-1])  # as long as the run took
        j1, t1 = status(url), time.monotonic()
        s0, s1 = j0["analyser"], j1["analyser"]
        nf = max(1, s1["frames"] - s0["frames"])
        stages = " ".join(f"{k} {1e3 * (j1['stage_busy_s'][k] - j0['stage_busy_s'][k]) / nf:.2f}"
                          for k in j1.get("stage_busy_s", {}))
        p.send_signal(signal.SIGTERM)
        p.wait()
        serves.append((s1["frames"] - s0["frames"]) / (t1 - t0))
        # engine time per frame, serve over run: > 1 means the engine itself ran slower (load),
        # not the serving around it
        busy.append((s1["busy_s"] - s0["busy_s"]) / max(1, s1["frames"] - s0["frames"]) / run_busy)
        util = ((s1["busy_s"] - s0["busy_s"]) / (t1 - t0), rj["stages"]["infer"]["busy_s"] / rj["totals"]["elapsed_s"])
        print(f"  round {r + 1}: run {runs[-1]:.2f} fps, serve {serves[-1]:.2f} fps, "
              f"overhead {100 * (runs[-1] - serves[-1]) / runs[-1]:.1f} %, engine ms/frame serve/run "
              f"{busy[-1]:.2f}, engine busy serve {util[0]:.2f} (waiting for the source "
              f"{(s1['starved_s'] - s0['starved_s']) / (t1 - t0):.2f}) run {util[1]:.2f}, load {os.getloadavg()[0]:.1f}",
              flush=True)
        if stages:
            print(f"    serve ms/frame by stage: {stages}", flush=True)
    return statistics.median(runs), statistics.median(serves), statistics.median(
        [100 * (a - b) / a for a, b in zip(runs, serves)])


if len(sys.argv) == 5 and sys.argv[1] == "--load":
    os.rmdir(T)
    drain(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    sys.exit(0)

load0 = os.getloadavg()
print("load before", load0, "| CPU", next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                                          if l.startswith("model name")), "?"), "|", os.cpu_count(), "cores", flush=True)
PARTS = os.environ.get("PARTS", "latency,vits,overhead").split(",")
if "latency" in PARTS:
    latency_ab()
if "vits" in PARTS:
    fv = ceiling(VITS, int(VITS_SIZE), 30)
    print(f"ViT-S {VITS_SIZE} fps ceiling {fv:.2f}", flush=True)
if "overhead" in PARTS:
    rf, sf, ov = overhead()
    print(f"tiny {SIZE}: fathom run {rf:.1f} fps, fathom serve analyser {sf:.1f} fps (medians); "
          f"overhead {ov:.1f} % (median of rounds; goal <= 5 %)", flush=True)
if "overhead_vits" in PARTS:  # the same at a real model's frame cost
    rf, sf, ov = overhead(VITS, n=30, size=int(VITS_SIZE), secs=30, rounds=int(os.environ.get("ROUNDS", "2")))
    print(f"ViT-S {VITS_SIZE}: fathom run {rf:.2f} fps, fathom serve analyser {sf:.2f} fps (medians); "
          f"overhead {ov:.1f} % (median of rounds; goal <= 5 %)", flush=True)
print("load after", os.getloadavg(), flush=True)
subprocess.run(["rm", "-rf", T])
