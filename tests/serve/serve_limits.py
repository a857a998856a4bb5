"""serve_limits.py - the streaming-client limit (--max-clients): WebSocket and MJPEG clients
count together; one over the limit gets 503 (counted, logged) while the others stay connected;
a client that leaves frees its place. Run by test_serve_limits.sh."""
import asyncio, sys, os, socket
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import *

srv = Server("--max-clients", "2")
ws_url = srv.url.replace("http://", "ws://") + "/v1/stream"


def mjpeg_status():
    """The status line of GET /v1/mjpeg (the stream itself is left unread)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall(b"GET /v1/mjpeg HTTP/1.1\r\nHost: x\r\n\r\n")
    line = s.makefile("rb").readline().decode()
    return s, int(line.split()[1]) if line.startswith("HTTP/") else -1


async def main():
    a = await websockets.connect(ws_url, open_timeout=30)
    m, code = mjpeg_status()
    check("limits: a WebSocket and an MJPEG client within --max-clients 2", code == 200, code)
    try:
        c = await websockets.connect(ws_url, open_timeout=30)
        await c.close()
        got = 101
    except websockets.exceptions.InvalidStatusCode as e:
        got = e.status_code
    check("limits: a third client (WebSocket) -> 503", got == 503, got)
    m2, code = mjpeg_status()
    m2.close()
    check("limits: a third client (MJPEG) -> 503", code == 503, code)
    check("limits: the first client is still connected", a.open)
    await a.close()
    ok = wait_for(lambda: (status(srv) or {}).get("sinks", {}).get("ws_clients", 9) == 0, 30)
    b = await websockets.connect(ws_url, open_timeout=30)
    check("limits: a client that left freed its place", ok and b.open)
    await b.close()
    m.close()


asyncio.run(main())
st = status(srv) or {}
check("limits: refusals counted", st.get("sinks", {}).get("rejected_clients") == 2, st.get("sinks"))
check("limits: refusals logged", srv.stderr().count("too many streaming clients") == 2)
rc, secs = srv.stop()
check("limits: exit 0 after SIGTERM", rc == 0, rc)
print("FAILED: " + ", ".join(FAILS) if FAILS else "all ok")
sys.exit(1 if FAILS else 0)
