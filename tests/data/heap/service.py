"""A small aiohttp service whose memory goes two ways, for heap profiles.

GET /keep   cache_add keeps 48 KB per request, for ever (the leak)
GET /churn  render_report allocates 1.5 MB per request and lets it go
GET /health ok

Usage: python service.py PORT [--no-leak]  (--no-leak: /keep keeps nothing)
"""
import sys

from aiohttp import web

CACHE = []
LEAK = "--no-leak" not in sys.argv[2:]


def cache_add(key):
    entry = bytearray(48_000)
    entry[:8] = key.to_bytes(8, "little")
    if LEAK:
        CACHE.append(entry)
    return len(entry)


def render_report(n):
    page = bytearray(1_500_000)
    page[n % len(page)] = 1
    return sum(page[:64])


async def keep(request):
    cache_add(len(CACHE))
    return web.Response(text="kept\n")


async def churn(request):
    render_report(len(CACHE))
    return web.Response(text="churned\n")


async def health(request):
    return web.Response(text="ok\n")


app = web.Application()
app.add_routes([web.get("/keep", keep), web.get("/churn", churn), web.get("/health", health)])

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
