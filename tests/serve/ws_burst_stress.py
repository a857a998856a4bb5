"""ws_burst_stress.py - bursts of 50 WebSocket clients against `fathom serve` (not in ctest: it
reproduces an open crash, docs/serve.md "Known issues").

    FATHOM_BIN=build/fathom FATHOM_GOLDEN=../shared/golden FATHOM_SRC=. \
        /usr/bin/python3 tests/serve/ws_burst_stress.py 150     # run two or three at once

Each iteration opens 50 clients at once, each reads 1-3 frames (uint16 or float32) and closes.
Prints "all ok", or the iteration where the server died or a client failed, with its stderr.
"""
import asyncio, sys, os, time, json
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import *
from serve_util import T
udp = free_udp_port(); sender = start_sender(udp)
srv = Server("--source", f"udp://127.0.0.1:{udp}")
ws_url = srv.url.replace("http://", "ws://") + "/v1/stream"
wait_for(lambda: (status(srv) or {}).get("analyser", {}).get("frames", 0) >= 3, 90)
async def many(n, k, f32):
    u = ws_url + ("?dtype=float32" if f32 else "")
    return await asyncio.gather(*[ws_frames(u, k, timeout=60) for _ in range(n)], return_exceptions=True)
for it in range(int(sys.argv[1])):
    res = asyncio.run(many(50, 1 + it % 3, it % 2))
    bad = [r for r in res if not isinstance(r, list)]
    alive = srv.p.poll() is None
    if bad or not alive:
        print("iter", it, "alive", alive, "rc", srv.p.poll(), "bad", bad[:2]); print(srv.stderr()[-1500:]); break
else:
    print("all ok")
srv.stop(); sender.terminate()
