"""A service whose capacity is known: W workers, each answering one
request at a time after a service time S (fixed, or exponential with mean
S), so it holds W/S requests a second whatever the machine's CPU. Requests
beyond W wait in a queue (FIFO), which --queue-limit bounds: a request that
would wait behind more than Q others is answered 503 at once.

  GET /work      one request of service
  GET /health    ok, at once

  python3 queue_server.py --port 8000 --workers 4 --service-ms 50
      [--exponential --seed 1] [--queue-limit 20] [--slow-start 5 --slow-factor 4]

--slow-start N makes the first N seconds (from the first /work) --slow-factor
times slower, as a cold cache would.

It prints "listening on http://127.0.0.1:PORT" once it accepts connections
and exits cleanly on SIGTERM.
"""

import asyncio
import random
import sys
import time

from aiohttp import web

sys.dont_write_bytecode = True
sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/scenarios")
import serving  # noqa: E402


def main():
    p = serving.parser(__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--service-ms", type=float, default=50.0)
    p.add_argument("--exponential", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--queue-limit", type=int, default=0, help="0: unbounded")
    p.add_argument("--slow-start", type=float, default=0.0)
    p.add_argument("--slow-factor", type=float, default=4.0)
    args = p.parse_args()
    rng = random.Random(args.seed)
    slots = asyncio.Semaphore(args.workers)
    state = {"waiting": 0, "first": None}

    async def work(request):
        now = time.monotonic()
        if state["first"] is None:
            state["first"] = now
        if args.queue_limit and state["waiting"] >= args.queue_limit and slots.locked():
            return web.Response(status=503, text="queue full\n")
        state["waiting"] += 1
        try:
            async with slots:
                state["waiting"] -= 1
                s = args.service_ms / 1000.0
                if args.exponential:
                    s = rng.expovariate(1.0 / s)
                if time.monotonic() - state["first"] < args.slow_start:
                    s *= args.slow_factor
                await asyncio.sleep(s)
        except BaseException:
            raise
        return web.Response(text="done\n")

    async def health(request):
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_get("/work", work)
    app.router.add_get("/health", health)
    serving.serve(app, args.port)


if __name__ == "__main__":
    main()
