"""A service that answers at once and remembers when each request arrived,
so a test can see how the arrivals of several load workers interleave.

  GET /hit?w=INDEX   answered "ok"; its arrival (time.time(), seconds) and
                     the worker index are kept (at most 1,000,000)
  GET /arrivals      the arrivals so far, as JSON: [[t, w], ...] in order

  python3 arrivals_server.py --port 8000

It prints "listening on http://127.0.0.1:PORT" once it accepts connections
and exits cleanly on SIGTERM.
"""

import json
import sys
import time

from aiohttp import web

sys.dont_write_bytecode = True
sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/scenarios")
import serving  # noqa: E402

LIMIT = 1_000_000


def main():
    args = serving.parser(__doc__.split("\n\n")[0]).parse_args()
    seen = []

    async def hit(request):
        if len(seen) < LIMIT:
            seen.append((time.time(), request.query.get("w", "")))
        return web.Response(text="ok\n")

    async def arrivals(request):
        return web.Response(text=json.dumps(seen), content_type="application/json")

    app = web.Application()
    app.router.add_get("/hit", hit)
    app.router.add_get("/arrivals", arrivals)
    serving.serve(app, args.port)


if __name__ == "__main__":
    main()
