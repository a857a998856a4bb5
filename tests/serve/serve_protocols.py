"""serve_protocols.py - `fathom serve` sources and output streams over the stream protocols other
than UDP (run by test_serve_protocols.sh): RTMP, SRT and HTTP, each on loopback against a real
ffmpeg peer. Sources: ffmpeg serves a live H.264 stream (RTMP `-listen 1`, SRT listener, HTTP
`-listen 1`) and the worker plays it; outputs: ffmpeg listens (RTMP server, SRT listener) and the
worker publishes its colorized depth to it, then the receiver leaves and comes back. And what a
V4L2 camera needs, short of a camera: source_options reaching the demuxer, a missing device. Each check prints ok/FAIL; exit 1 on any failure."""
import asyncio
import json
import os
import socket
import subprocess
import sys
import time

from serve_util import FAILS, T, Server, check, wait_for, ws_frames, http


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def status(srv):
    code, body, _ = http(srv.url + "/v1/status")
    return json.loads(body) if code == 200 else {}


def protocols():
    out = subprocess.run(["ffmpeg", "-hide_banner", "-protocols"], capture_output=True, text=True).stdout
    inp, _, outp = out.partition("Output:")
    return set(inp.split()), set(outp.split())


def sender(url, fmt, extra=()):
    """ffmpeg serving a live 160x120 10 fps H.264 stream at url (listening)."""
    return subprocess.Popen(["ffmpeg", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
                             "testsrc=size=160x120:rate=10", "-t", "120", "-c:v", "libx264", "-g", "10",
                             "-tune", "zerolatency", "-f", fmt, *extra, url], stdin=subprocess.DEVNULL)


def source_case(name, sender_url, fmt, extra, serve_url):
    tx = sender(sender_url, fmt, extra)
    time.sleep(0.5)  # listening before the worker connects
    srv = Server("--source", serve_url)
    try:
        ok = wait_for(lambda: status(srv).get("analyser", {}).get("frames", 0) >= 3, 60)
        check(f"{name} source: frames analysed", ok, (status(srv).get("source"), srv.stderr()[-1500:]))
        frames = asyncio.run(ws_frames(srv.url.replace("http://", "ws://") + "/v1/stream", 3)) if ok else []
        check(f"{name} source: WebSocket frames of the stream's 120x160",
              len(frames) == 3 and all((h["height"], h["width"]) == (120, 160) for h, _ in frames),
              [h for h, _ in frames])
        st = status(srv).get("source", {})
        check(f"{name} source: status says playing", st.get("state", "").startswith("playing"), st)
    finally:
        srv.stop()
        tx.kill()
        tx.wait()


def receive(name, listen_url, got):
    """ffmpeg listening at listen_url for 10 frames of the worker's stream, copied to got."""
    return subprocess.Popen(["ffmpeg", "-loglevel", "error", "-y", *(["-listen", "1"] if name == "rtmp" else []),
                             "-i", listen_url, "-frames:v", "10", "-c", "copy", got], stdin=subprocess.DEVNULL)


def received(name, rx, got, srv, what):
    try:
        rc = rx.wait(timeout=60)
    except subprocess.TimeoutExpired:
        rx.kill()
        rx.wait()
        rc = None
    pr = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                         "stream=codec_name,width,height,nb_read_frames", "-of", "json", got],
                        capture_output=True, text=True)
    s = (json.loads(pr.stdout or "{}").get("streams") or [{}])[0]
    check(f"{name} output: {what}: ffmpeg receives 10 H.264 frames 160x120",
          rc == 0 and s.get("codec_name") == "h264" and (s.get("width"), s.get("height")) == (160, 120)
          and s.get("nb_read_frames") == "10", (rc, s, status(srv).get("sinks"), srv.stderr()[-1500:]))


def output_case(name, listen_url, serve_url, ext):
    """The worker publishes to a listening ffmpeg; the receiver leaves (the worker reports it
    and serves on) and comes back (the worker reconnects by itself)."""
    clip = os.path.join(T, "clip.mp4")
    if not os.path.exists(clip):
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
                        "-t", "3", clip], check=True)
    got = os.path.join(T, f"got-{name}-1.{ext}")
    rx = receive(name, listen_url, got)
    time.sleep(0.5)
    srv = Server("--source", clip, "--loop", "--realtime", "--output-url", serve_url)
    try:
        received(name, rx, got, srv, "first receiver")
        gone = wait_for(lambda: status(srv).get("sinks", {}).get("output_url", "").startswith("error"), 30)
        check(f"{name} output: the receiver leaving is reported, the worker serves on",
              gone and status(srv).get("analyser", {}).get("fps", 0) > 0, status(srv).get("sinks"))
        n0 = status(srv).get("sinks", {}).get("streamed", 0)
        got = os.path.join(T, f"got-{name}-2.{ext}")
        received(name, receive(name, listen_url, got), got, srv, "a receiver coming back")
        check(f"{name} output: streaming again after the receiver came back",
              status(srv).get("sinks", {}).get("streamed", 0) >= n0 + 10, status(srv).get("sinks"))
    finally:
        srv.stop()


def camera_cases():
    """What a V4L2 camera needs, without one (no /dev/video* nor v4l2loopback in a container):
    source_options reach the demuxer as a camera's would (a raw RGB file readable only with
    format, video_size, pixel_format and framerate given), a missing device gives a clear state
    logged once, bad options are refused or reported."""
    raw = os.path.join(T, "cam.rgb")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=176x144:rate=10",
                    "-t", "2", "-f", "rawvideo", "-pix_fmt", "rgb24", raw], check=True)
    srv = Server("--source", raw, "--loop", "--source-options",
                 "format=rawvideo,video_size=176x144,pixel_format=rgb24,framerate=10,no_such_option=1")
    try:
        ok = wait_for(lambda: status(srv).get("analyser", {}).get("frames", 0) >= 3, 60)
        frames = asyncio.run(ws_frames(srv.url.replace("http://", "ws://") + "/v1/stream", 2)) if ok else []
        check("source_options: a raw file opened with format/video_size/pixel_format/framerate gives 144x176 frames",
              ok and len(frames) == 2 and all((h["height"], h["width"]) == (144, 176) for h, _ in frames),
              (status(srv).get("source"), [h for h, _ in frames], srv.stderr()[-1500:]))
        err = srv.stderr()
        check("source_options: an option the input does not take is logged once",
              err.count("option no_such_option=1 not used by the rawvideo input") == 1, err[-1500:])
        code, body, _ = http(srv.url + "/v1/config", "PATCH", json.dumps({"source_options": "video_size"}).encode())
        check("source_options: an item without KEY=VALUE gets 400 naming the key",
              code == 400 and b"source_options" in body, (code, body))
        code, _, _ = http(srv.url + "/v1/config", "PATCH", json.dumps({"source_options": "format=no_such_demuxer"}).encode())
        state = lambda: status(srv).get("source", {}).get("state", "")
        check("source_options: an unknown format is reported in the source state",
              code == 200 and wait_for(lambda: "no 'no_such_demuxer' input format" in state(), 20), state())
        dev = "/dev/video99"
        code, _, _ = http(srv.url + "/v1/config", "PATCH", json.dumps({"source": dev, "source_options": ""}).encode())
        check("camera: a missing device says so in the source state",
              code == 200 and wait_for(lambda: "no such device" in state(), 20), state())
        time.sleep(2.5)  # several reopen attempts
        err = srv.stderr()
        check("camera: the missing device is logged once, not on every retry, and the worker serves on",
              err.count(f"source {dev}: cannot open: no such device") == 1
              and status(srv).get("source", {}).get("errors", 0) >= 3, (err[-1200:], status(srv).get("source")))
    finally:
        srv.stop()


camera_cases()
inp, outp = protocols()
for proto in ("rtmp", "srt", "http"):
    if proto not in inp:
        print(f"SKIP {proto}: this FFmpeg has no {proto} protocol")
p = free_tcp_port()
if "rtmp" in inp:
    source_case("rtmp", f"rtmp://127.0.0.1:{p}/live/cam", "flv", ["-listen", "1"], f"rtmp://127.0.0.1:{p}/live/cam")
p = free_tcp_port()  # SRT runs on UDP; a free TCP port number is free enough on loopback
if "srt" in inp:
    source_case("srt", f"srt://127.0.0.1:{p}?mode=listener", "mpegts", [], f"srt://127.0.0.1:{p}")
p = free_tcp_port()
if "http" in inp:
    source_case("http", f"http://127.0.0.1:{p}/cam.ts", "mpegts", ["-listen", "1"], f"http://127.0.0.1:{p}/cam.ts")
p = free_tcp_port()
if "rtmp" in outp:
    output_case("rtmp", f"rtmp://127.0.0.1:{p}/live/depth", f"rtmp://127.0.0.1:{p}/live/depth", "flv")
p = free_tcp_port()
if "srt" in outp:
    output_case("srt", f"srt://127.0.0.1:{p}?mode=listener", f"srt://127.0.0.1:{p}", "ts")
print(f"{len(FAILS)} failed" if FAILS else "all passed")
sys.exit(1 if FAILS else 0)
