"""A service whose Prometheus metrics are known exactly, for checking
loadprof's figures against Prometheus's own on the same samples.

  GET /          counts a request (served_total) and observes a latency
                 picked in turn from a fixed cycle (latency_seconds)
  GET /metrics   the 0.0.4 text: served_total (a counter that resets to
                 zero every --reset requests, as a restarted process's
                 would), latency_seconds (a histogram), queue_depth (a
                 gauge that follows the requests in a saw-tooth)

  python3 exporter.py --port 8000 [--reset 150]

It prints "listening on http://127.0.0.1:PORT" once it accepts connections
and exits cleanly on SIGTERM.
"""

import argparse
import http.server
import signal
import sys
import threading

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
CYCLE = (0.003, 0.007, 0.02, 0.02, 0.04, 0.09, 0.2, 0.6, 0.012, 0.03)


class State:
    def __init__(self, reset):
        self.lock = threading.Lock()
        self.reset = reset
        self.served = 0
        self.since_reset = 0
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.total = 0.0

    def serve(self):
        with self.lock:
            latency = CYCLE[self.served % len(CYCLE)]
            self.served += 1
            self.since_reset += 1
            if self.since_reset > self.reset:
                self.since_reset = 1
            for i, b in enumerate(BUCKETS):
                if latency <= b:
                    self.buckets[i] += 1
            self.buckets[-1] += 1
            self.total += latency

    def text(self):
        with self.lock:
            lines = [
                "# HELP served_total Requests served since the last reset.",
                "# TYPE served_total counter",
                f'served_total{{path="/"}} {self.since_reset}',
                "# HELP latency_seconds Latency of each request, from a fixed cycle.",
                "# TYPE latency_seconds histogram",
            ]
            for b, n in zip(BUCKETS, self.buckets):
                lines.append(f'latency_seconds_bucket{{le="{b}"}} {n}')
            lines.append(f'latency_seconds_bucket{{le="+Inf"}} {self.buckets[-1]}')
            lines.append(f"latency_seconds_count {self.buckets[-1]}")
            lines.append(f"latency_seconds_sum {self.total}")
            lines.append("# HELP queue_depth A saw-tooth of the requests served.")
            lines.append("# TYPE queue_depth gauge")
            lines.append(f"queue_depth {self.served % 17}")
            return ("\n".join(lines) + "\n").encode()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--reset", type=int, default=150, help="requests after which served_total starts again")
    args = p.parse_args()
    state = State(args.reset)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if self.path == "/metrics":
                body, ctype = state.text(), "text/plain; version=0.0.4; charset=utf-8"
            else:
                state.serve()
                body, ctype = b"ok\n", "text/plain"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
