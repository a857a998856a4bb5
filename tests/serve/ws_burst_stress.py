"""ws_burst_stress.py - bursts of 50 WebSocket clients against `fathom serve`: each iteration
opens 50 clients at once, each reads 1-3 frames (uint16 or float32) and closes. A regression
test for the heap corruption libmicrohttpd 0.9.75 caused under such bursts in its
thread-per-connection mode (docs/serve.md, "HTTP threads"). test_serve_burst.sh runs 30 bursts;
by hand, run two or three at once with more:

    FATHOM_BIN=build/fathom FATHOM_GOLDEN=../shared/golden FATHOM_SRC=. \
        /usr/bin/python3 tests/serve/ws_burst_stress.py 300

Prints "all ok" and exits 0, or the iteration where the server died or a client failed, with
its stderr, and exits 1. The server must also stop cleanly (exit 0) afterwards.
"""
import asyncio, sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import *
udp = free_udp_port(); sender = start_sender(udp)
srv = Server("--source", f"udp://127.0.0.1:{udp}")
ws_url = srv.url.replace("http://", "ws://") + "/v1/stream"
wait_for(lambda: (status(srv) or {}).get("analyser", {}).get("frames", 0) >= 3, 90)
async def many(n, k, f32):
    u = ws_url + ("?dtype=float32" if f32 else "")
    return await asyncio.gather(*[ws_frames(u, k, timeout=60) for _ in range(n)], return_exceptions=True)
bursts = int(sys.argv[1]) if len(sys.argv) > 1 else 30
ok = True
for it in range(bursts):
    res = asyncio.run(many(50, 1 + it % 3, it % 2))
    bad = [r for r in res if not isinstance(r, list)]
    alive = srv.p.poll() is None
    if bad or not alive:
        print("iter", it, "alive", alive, "rc", srv.p.poll(), "bad", bad[:2]); print(srv.stderr()[-1500:])
        ok = False
        break
else:
    print(f"all ok: {bursts} bursts of 50 clients")
rc, secs = srv.stop() if srv.p.poll() is None else (srv.p.poll(), 0)
sender.terminate()
if ok and rc != 0:
    print("server exit", rc, "after", secs, "s"); print(srv.stderr()[-1500:])
sys.exit(0 if ok and rc == 0 else 1)
