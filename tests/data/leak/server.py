"""A small HTTP server for recording leak traces.

  server.py PORT leak    keeps 2 KiB per request forever (a real leak)
  server.py PORT cache   keeps 16 KiB per distinct key in a cache bounded to
                         2000 entries (fills, then plateaus)
"""
import collections, http.server, random, sys

PORT, MODE = int(sys.argv[1]), sys.argv[2]
kept = []
cache = collections.OrderedDict()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if MODE == "leak":
            kept.append(bytearray(2048))
        else:
            key = random.randrange(100000)
            cache[key] = bytearray(16384)
            cache.move_to_end(key)
            while len(cache) > 2000:
                cache.popitem(last=False)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
