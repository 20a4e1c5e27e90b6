"""What the scenario servers share: the command line's --port, the
"listening on" line, and a clean exit on SIGTERM or SIGINT."""

import argparse
import asyncio
import signal
import socket
import sys

from aiohttp import web


def parser(description):
    """An argument parser with --port (0 picks a free port)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: pick a free one)")
    return p


def span(text):
    """Reads "20..80" (a range) or "50" (fixed) as (low, high)."""
    lo, sep, hi = text.partition("..")
    lo = float(lo)
    hi = float(hi) if sep else lo
    if hi < lo:
        raise argparse.ArgumentTypeError(f"'{text}': the range must go from low to high, e.g. 20..80")
    return lo, hi


def serve(app, port):
    """Serves `app` on 127.0.0.1:`port` until SIGTERM or SIGINT, then closes
    every connection and returns (exit status 0)."""
    asyncio.run(_serve(app, port))


async def _serve(app, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.SockSite(runner, sock, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await site.start()
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    await stop.wait()
    await runner.cleanup()
    sys.stdout.flush()
