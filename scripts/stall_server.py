#!/usr/bin/env python3
"""An HTTP/1.1 server that answers in about 1 ms, except that once every
5 s it holds every response for 1 s (a GC pause, a failover): a request
that arrives during the stall is answered when the stall ends.

Usage: stall_server.py PORT [--period 5] [--stall 1] [--log FILE]
With --log, the time (time.time()) of the first request is written there.
"""
import argparse, asyncio, time

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n"


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--period", type=float, default=5.0)
    ap.add_argument("--stall", type=float, default=1.0)
    ap.add_argument("--log")
    a = ap.parse_args()
    t0 = time.monotonic()
    first = []

    def delay():
        phase = (time.monotonic() - t0) % a.period
        start = a.period - a.stall
        return (a.period - phase) if phase >= start else 0.001

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not first:
                    first.append(time.time())
                    if a.log:
                        with open(a.log, "w") as f:
                            f.write(f"{first[0]}\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                await asyncio.sleep(delay())
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", a.port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
