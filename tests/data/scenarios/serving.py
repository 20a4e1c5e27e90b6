"""What the scenario servers share: the command line's --port, the
"listening on" line, a clean exit on SIGTERM or SIGINT, and Prometheus
metrics at /metrics (prometheus-client: every request's latency by route
and its count by route and status, in OpenMetrics when asked for)."""

import argparse
import asyncio
import signal
import socket
import sys
import time

import prometheus_client
from aiohttp import web
from prometheus_client import exposition

REGISTRY = prometheus_client.CollectorRegistry()
prometheus_client.ProcessCollector(registry=REGISTRY)
REQUEST_SECONDS = prometheus_client.Histogram(
    "http_request_duration_seconds",
    "Time from a request's arrival to its answer, by route",
    ["route", "method"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REQUESTS = prometheus_client.Counter(
    "http_requests", "Requests answered, by route and status", ["route", "method", "status"], registry=REGISTRY
)


def route_of(request):
    """The route's pattern (/jobs/{id}), never the raw path, so the labels stay few."""
    info = request.match_info
    route = info.route if info is not None else None
    resource = getattr(route, "resource", None)
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe(request, handler):
    if request.path == "/metrics":
        return await handler(request)
    t0 = time.perf_counter()
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    except web.HTTPException as e:
        status = e.status
        raise
    finally:
        route = route_of(request)
        REQUEST_SECONDS.labels(route, request.method).observe(time.perf_counter() - t0)
        REQUESTS.labels(route, request.method, str(status)).inc()


async def metrics(request):
    encoder, content_type = exposition.choose_encoder(request.headers.get("Accept", ""))
    body = encoder(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": content_type})


def application(**kwargs):
    """An aiohttp application with the request metrics and /metrics."""
    middlewares = [observe, *kwargs.pop("middlewares", [])]
    app = web.Application(middlewares=middlewares, **kwargs)
    app.router.add_get("/metrics", metrics)
    return app


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
