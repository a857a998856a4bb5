"""viewer_cdp.py - load the `fathom serve` viewer in headless Chromium over the DevTools protocol.

Checks: the depth <img> (MJPEG) shows pixels and the status line reports analysed frames
rising; choosing a colormap in the page's <select> changes GET /v1/config; a screenshot of the
page is saved. Exit 1 on any failure.
"""
import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

CHROME = sys.argv[1]
BIN, GOLDEN = os.environ["FATHOM_BIN"], os.environ["FATHOM_GOLDEN"]
OUT = os.environ.get("FATHOM_BUILD", ".")
T = tempfile.mkdtemp(prefix="fathom-viewer-")
FAILS = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f"  ({detail})"), flush=True)
    if not cond:
        FAILS.append(name)


clip = os.path.join(T, "clip.mp4")
subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30",
                "-t", "3", clip], check=True)
srv = subprocess.Popen([BIN, "serve", "--model", os.path.join(GOLDEN, "tiny-hf", "model"), "--no-config",
                        "--listen", "127.0.0.1:0", "--source", clip, "--realtime", "--loop",
                        "--input-size", "56", "--threads", "1"], stdout=subprocess.PIPE, text=True)
url = srv.stdout.readline().split()[-1].rstrip("/")
profile = os.path.join(T, "profile")
chrome = subprocess.Popen([CHROME, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1280,800",
                           "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def main():
    port_file = os.path.join(profile, "DevToolsActivePort")
    end = time.monotonic() + 90
    while not os.path.exists(port_file) and time.monotonic() < end:
        await asyncio.sleep(0.2)
    port = int(open(port_file).read().split()[0])
    pages = []  # DevToolsActivePort can be written before the about:blank page target exists
    while not pages and time.monotonic() < end:
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30).read())
        pages = [t for t in targets if t["type"] == "page"]
        if not pages:
            await asyncio.sleep(0.2)
    page = pages[0]["webSocketDebuggerUrl"]
    async with websockets.connect(page, max_size=2**28) as ws:
        n = 0

        async def call(method, **params):
            nonlocal n
            n += 1
            await ws.send(json.dumps({"id": n, "method": method, "params": params}))
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), 120))
                if m.get("id") == n:
                    return m.get("result", {})

        async def js(expr):
            r = await call("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
            return r.get("result", {}).get("value")

        await call("Page.enable")
        await call("Page.navigate", url=url + "/")

        async def poll(expr, timeout=90):
            end = time.monotonic() + timeout
            v = None
            while time.monotonic() < end:
                v = await js(expr)
                if v:
                    return v
                await asyncio.sleep(0.5)
            return v

        check("viewer: depth image shows pixels", await poll("document.getElementById('depth').naturalWidth > 0"))
        a1 = int(await poll("document.body.dataset.analysed") or 0)
        await asyncio.sleep(3)
        a2 = int(await poll("document.body.dataset.analysed") or 0)
        check("viewer: status shows analysed frames rising", a2 > a1 > 0, (a1, a2))
        check("viewer: stats text rendered", "analyser" in (await js("document.getElementById('stats').textContent") or ""))
        await js("(() => { const s = document.getElementById('colormap'); s.value = 'inferno';"
                 " s.dispatchEvent(new Event('change')); return true; })()")
        ok = False
        end = time.monotonic() + 30
        while time.monotonic() < end and not ok:
            cfg = json.loads(urllib.request.urlopen(url + "/v1/config", timeout=30).read())
            ok = cfg["colormap"] == "inferno"
            await asyncio.sleep(0.3)
        check("viewer: the colormap control changes the live settings", ok)
        shot = await call("Page.captureScreenshot", format="png")
        path = os.path.join(OUT, "serve_viewer.png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        check("viewer: screenshot saved", os.path.getsize(path) > 1000, path)


try:
    asyncio.run(main())
except Exception as e:  # noqa: BLE001
    check("viewer: DevTools session", False, repr(e))
finally:
    chrome.terminate()
    try:
        chrome.wait(10)
    except subprocess.TimeoutExpired:
        chrome.kill()
    srv.send_signal(signal.SIGTERM)
    check("viewer: server exits 0", srv.wait(10) == 0)
    shutil.rmtree(T, ignore_errors=True)
print(f"{len(FAILS)} failed" if FAILS else "all passed")
sys.exit(1 if FAILS else 0)
