"""A small web console for journeys (multi-step user flows): static assets, a
login that hands out a bearer token, tokens passed in headers and forms, a
cookie session, and jobs that are polled until they finish.

  GET  /                      an HTML shell (~4 KB) that loads /static/app.js
  GET  /static/app.js         a JS bundle (~100 KB, the same on every start)
  POST /login                 {"user": str, "password": str}: 200 with
                              {"access_token", "token_type": "bearer", "user"},
                              401 {"error": "bad credentials"} on a wrong password
  POST /simulate              needs "Authorization: Bearer <access_token>" (else
                              401); waits --simulate-ms, then {"result", "user"}
  GET  /token-header          {} with an "X-Token: <hex>" response header
  GET  /needs-header-token    needs request header X-Token from /token-header (else 403)
  GET  /form                  HTML with <input type="hidden" name="csrf" value="...">
  POST /form                  needs header X-CSRF with that value (else 403): {"ok": true}
  POST /session/start         {"sid"}, sets cookies sid (HttpOnly) and theme, deletes old
  GET  /session/visit         needs the sid cookie (else 401): {"sid", "visits"}
  POST /jobs                  optional {"fail": true}: 202 {"id", "status": "queued"}
  GET  /jobs/{id}             {"id", "status", "age_ms"}: queued for the first half
                              of --job-delay, then running, then done (or failed)
  GET  /stats                 counters, and per route pattern {"count", "first",
                              "last"} in seconds since start (itself not counted)
  GET  /health                {"status": "ok"}

  python3 console_server.py --port 8001 [--job-delay 0.6] [--password s3cret] [--simulate-ms 20]

Any request that still carries the cookie "old" (which /session/start deletes)
counts as stale_cookie. Request bodies over 64 KiB get 413. Remembered tokens,
sessions and jobs are capped (oldest forgotten first), so memory stays bounded
under load. It prints "listening on http://127.0.0.1:PORT" once it accepts
connections and exits cleanly on SIGTERM.
"""

import asyncio
import collections
import random
import secrets
import sys
import time

from aiohttp import web

sys.dont_write_bytecode = True  # no __pycache__ beside the servers
import serving  # noqa: E402

MAX_BODY = 64 * 1024
MAX_KEPT = 200_000


def remember(table, key, value):
    """Stores key -> value in an OrderedDict, forgetting the oldest beyond MAX_KEPT."""
    table[key] = value
    while len(table) > MAX_KEPT:
        table.popitem(last=False)


def make_bundle(size=100 * 1024, seed=7):
    """A deterministic JS bundle of about `size` bytes."""
    rng = random.Random(seed)
    words = "render state props fetch token session job poll queue user form route view store".split()
    parts, total, i = ["\"use strict\";\n"], 0, 0
    while total < size:
        a, b = rng.sample(words, 2)
        fn = (
            f"function {a}_{b}_{i}(x) {{\n  const v = x * {rng.randint(1, 9999)} + {rng.randint(0, 99)};\n"
            f"  return v > {rng.randint(1000, 99999)} ? \"{a}\" : \"{b}\" + v;\n}}\n"
        )
        parts.append(fn)
        total += len(fn)
        i += 1
    return "".join(parts).encode()


def make_shell():
    """The HTML shell (~4 KB) that loads the bundle."""
    rows = "\n".join(
        f'      <li class="nav-item"><a href="#/section/{i}">Section {i}: overview, runs and settings</a></li>'
        for i in range(40)
    )
    return (
        "<!doctype html>\n<html lang=\"en\">\n  <head>\n    <meta charset=\"utf-8\">\n"
        "    <title>loadprof console</title>\n    <script src=\"/static/app.js\" defer></script>\n"
        f"  </head>\n  <body>\n    <ul id=\"nav\">\n{rows}\n    </ul>\n    <div id=\"app\"></div>\n"
        "  </body>\n</html>\n"
    )


async def read_json(request):
    """The request's JSON object, or {} for an empty body; ValueError when not an object."""
    raw = await request.read()  # 413 beyond the app's client_max_size
    if not raw.strip():
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    return body


class Service:
    def __init__(self, args):
        self.args = args
        self.started = time.monotonic()
        self.rng = random.Random()
        self.bundle = make_bundle()
        self.shell = make_shell()
        self.access_tokens = collections.OrderedDict()  # token -> user
        self.header_tokens = collections.OrderedDict()  # token -> None
        self.csrf = collections.OrderedDict()  # value -> None
        self.sessions = collections.OrderedDict()  # sid -> visits
        self.jobs = collections.OrderedDict()  # id -> (queued_at, fail)
        self.counts = collections.Counter()
        self.paths = {}  # route pattern -> {"count", "first", "last"}

    @web.middleware
    async def observe(self, request, handler):
        resource = request.match_info.route.resource
        if resource is not None and resource.canonical != "/stats":
            t = round(time.monotonic() - self.started, 6)
            entry = self.paths.setdefault(resource.canonical, {"count": 0, "first": t, "last": t})
            entry["count"] += 1
            entry["last"] = t
            if "old" in request.cookies:
                self.counts["stale_cookie"] += 1
        return await handler(request)

    async def index(self, request):
        return web.Response(text=self.shell, content_type="text/html")

    async def app_js(self, request):
        return web.Response(body=self.bundle, content_type="application/javascript")

    async def login(self, request):
        try:
            body = await read_json(request)
            user, password = body["user"], body["password"]
            if not isinstance(user, str) or not isinstance(password, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            self.counts["login_failures"] += 1
            return web.json_response({"error": "expected JSON {\"user\": str, \"password\": str}"}, status=400)
        if not secrets.compare_digest(password.encode(), self.args.password.encode()):
            self.counts["login_failures"] += 1
            return web.json_response({"error": "bad credentials"}, status=401)
        token = secrets.token_hex(16)
        remember(self.access_tokens, token, user)
        self.counts["logins"] += 1
        return web.json_response({"access_token": token, "token_type": "bearer", "user": user})

    async def simulate(self, request):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        user = self.access_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            self.counts["simulate_unauthorized"] += 1
            return web.json_response({"error": "missing or unknown bearer token"}, status=401)
        await asyncio.sleep(self.args.simulate_ms / 1000)
        self.counts["simulate_ok"] += 1
        return web.json_response({"result": round(self.rng.uniform(0, 1000), 3), "user": user})

    async def token_header(self, request):
        token = secrets.token_hex(16)
        remember(self.header_tokens, token, None)
        return web.json_response({}, headers={"X-Token": token})

    async def needs_header_token(self, request):
        if request.headers.get("X-Token", "") not in self.header_tokens:
            self.counts["header_token_bad"] += 1
            return web.json_response({"error": "missing or unknown X-Token"}, status=403)
        self.counts["header_token_ok"] += 1
        return web.json_response({"ok": True})

    async def form_page(self, request):
        value = secrets.token_hex(8)
        remember(self.csrf, value, None)
        html = (
            "<!doctype html>\n<html><body>\n<form method=\"post\" action=\"/form\">\n"
            f"  <input type=\"hidden\" name=\"csrf\" value=\"{value}\">\n"
            "  <input type=\"text\" name=\"note\">\n  <button>Send</button>\n</form>\n</body></html>\n"
        )
        return web.Response(text=html, content_type="text/html")

    async def form_post(self, request):
        if request.headers.get("X-CSRF", "") not in self.csrf:
            self.counts["form_bad"] += 1
            return web.json_response({"error": "missing or unknown X-CSRF"}, status=403)
        self.counts["form_ok"] += 1
        return web.json_response({"ok": True})

    async def session_start(self, request):
        sid = secrets.token_hex(16)
        remember(self.sessions, sid, 0)
        response = web.json_response({"sid": sid})
        response.set_cookie("sid", sid, path="/", httponly=True)
        response.set_cookie("theme", "dark", path="/")
        response.set_cookie("old", "1", max_age=0, path="/")
        return response

    async def session_visit(self, request):
        sid = request.cookies.get("sid")
        if sid not in self.sessions:
            self.counts["visits_without_session"] += 1
            return web.json_response({"error": "no session; POST /session/start first"}, status=401)
        self.sessions[sid] += 1
        return web.json_response({"sid": sid, "visits": self.sessions[sid]})

    async def create_job(self, request):
        try:
            fail = bool((await read_json(request)).get("fail", False))
        except ValueError:
            return web.json_response({"error": "expected an empty body or JSON {\"fail\": bool}"}, status=400)
        job_id = secrets.token_hex(8)
        remember(self.jobs, job_id, (time.monotonic(), fail))
        self.counts["jobs_created"] += 1
        return web.json_response({"id": job_id, "status": "queued"}, status=202)

    async def poll_job(self, request):
        job_id = request.match_info["id"]
        job = self.jobs.get(job_id)
        self.counts["job_polls"] += 1
        if job is None:
            return web.json_response({"error": f"no job {job_id}"}, status=404)
        queued_at, fail = job
        age = time.monotonic() - queued_at
        delay = self.args.job_delay
        if age < delay / 2:
            status = "queued"
        elif age < delay:
            status = "running"
        else:
            status = "failed" if fail else "done"
            self.counts[f"jobs_{status}_seen"] += 1
        return web.json_response({"id": job_id, "status": status, "age_ms": int(age * 1000)})

    async def stats(self, request):
        names = "logins login_failures simulate_ok simulate_unauthorized header_token_ok header_token_bad " \
            "form_ok form_bad visits_without_session stale_cookie jobs_created job_polls jobs_done_seen " \
            "jobs_failed_seen".split()
        out = {name: self.counts[name] for name in names}
        out["sessions"] = dict(self.sessions)
        out["paths"] = self.paths
        return web.json_response(out)

    async def health(self, request):
        return web.json_response({"status": "ok"})


def main():
    p = serving.parser(__doc__.split("\n\n")[0])
    p.add_argument("--job-delay", type=float, default=0.6, help="seconds from POST /jobs to done")
    p.add_argument("--password", default="s3cret", help="the password /login accepts")
    p.add_argument("--simulate-ms", type=float, default=20, help="milliseconds /simulate waits")
    args = p.parse_args()
    if args.job_delay < 0 or args.simulate_ms < 0:
        p.error("--job-delay and --simulate-ms must not be negative")
    svc = Service(args)
    app = serving.application(client_max_size=MAX_BODY, middlewares=[svc.observe])
    app.router.add_get("/", svc.index)
    app.router.add_get("/static/app.js", svc.app_js)
    app.router.add_post("/login", svc.login)
    app.router.add_post("/simulate", svc.simulate)
    app.router.add_get("/token-header", svc.token_header)
    app.router.add_get("/needs-header-token", svc.needs_header_token)
    app.router.add_get("/form", svc.form_page)
    app.router.add_post("/form", svc.form_post)
    app.router.add_post("/session/start", svc.session_start)
    app.router.add_get("/session/visit", svc.session_visit)
    app.router.add_post("/jobs", svc.create_job)
    app.router.add_get("/jobs/{id}", svc.poll_job)
    app.router.add_get("/stats", svc.stats)
    app.router.add_get("/health", svc.health)
    serving.serve(app, args.port)


if __name__ == "__main__":
    main()
