"""What the fake LLM servers share: the three fake models (sizes, speeds,
memory, answers), a scheduler that loads and unloads them, queues requests
and times prefill and decode on the real clock, and the command line's
--port / "listening on" line / clean exit on SIGTERM.

fake_ollama.py speaks Ollama's API on top of it, fake_openai.py an
OpenAI-compatible one (flavours vllm, llamacpp, plain; and ollama's /v1).

The models, at --speed-scale 1 (every duration is divided by the scale):

  name     params  quant   disk size       loaded size (/api/ps)  decode    prefill   cold load  RSS (--mem-scale 25)
  tiny:1b  1.2B    Q4_K_M    807,694,464   1,001,390,080           80 tok/s  1500 t/s  0.25 s      20 MiB
  mid:3b   3.2B    Q4_K_M  2,019,393,189   2,611,290,112           30 tok/s   400 t/s  0.60 s      50 MiB
  big:8b   8.0B    Q4_K_M  4,920,753,328   5,714,739,200            6 tok/s    60 t/s  1.50 s     123 MiB

Timing of one request, as the server sees it:
  queue wait (parallel slots busy) + cold load  -> load_duration
  uncached prompt tokens / prefill rate (+ a small per-model overhead)
                                                -> prompt_eval_duration
  one decode step per output token (1/decode rate, +-4 % jitter, slower
  when several requests decode at once)          -> eval_duration
A natural stop costs one more decode step (the end-of-sequence token): it is
counted in eval_count / completion_tokens but never streamed, as with
llama.cpp's server (and so Ollama) and vLLM. A stop on num_predict /
max_tokens streams exactly that many tokens.
"""

import argparse
import asyncio
import dataclasses
import hashlib
import json
import mmap
import os
import random
import re
import signal
import socket
import sys
import time
import zlib

from aiohttp import web

# ---------------------------------------------------------------- the models


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    basename: str
    parameter_size: str  # as Ollama prints it: "1.2B"
    parameter_count: int
    size_label: str
    quantization_level: str
    file_type: int  # GGUF general.file_type (15 = Q4_K_M)
    size: int  # bytes on disk (/api/tags)
    kv_bytes: int  # added when loaded at context_length (/api/ps size)
    block_count: int
    embedding_length: int
    feed_forward_length: int
    head_count: int
    head_count_kv: int
    decode_tps: float  # tokens per second at --speed-scale 1
    prefill_tps: float
    prefill_overhead_s: float  # per request with uncached prompt tokens
    load_s: float  # cold load at --speed-scale 1
    natural_len: int  # tokens of a generic answer (before a natural stop)
    quality: str  # which canned answers: "tiny", "mid" or "big"
    modified_at: str

    @property
    def loaded_size(self):
        return self.size + self.kv_bytes

    @property
    def digest(self):
        return hashlib.sha256(("fake-model:" + self.name).encode()).hexdigest()


MODELS = [
    ModelSpec(
        name="tiny:1b", basename="Tiny", parameter_size="1.2B", parameter_count=1_235_814_432,
        size_label="1B", quantization_level="Q4_K_M", file_type=15, size=807_694_464,
        kv_bytes=193_695_616, block_count=16, embedding_length=2048, feed_forward_length=8192,
        head_count=32, head_count_kv=8, decode_tps=80.0, prefill_tps=1500.0, prefill_overhead_s=0.005,
        load_s=0.25, natural_len=56, quality="tiny", modified_at="2026-06-03T09:12:44.918273645Z",
    ),
    ModelSpec(
        name="mid:3b", basename="Mid", parameter_size="3.2B", parameter_count=3_212_749_888,
        size_label="3B", quantization_level="Q4_K_M", file_type=15, size=2_019_393_189,
        kv_bytes=591_896_923, block_count=28, embedding_length=3072, feed_forward_length=8192,
        head_count=24, head_count_kv=8, decode_tps=30.0, prefill_tps=400.0, prefill_overhead_s=0.02,
        load_s=0.60, natural_len=48, quality="mid", modified_at="2026-05-21T16:40:02.51338Z",
    ),
    ModelSpec(
        name="big:8b", basename="Big", parameter_size="8.0B", parameter_count=8_030_261_248,
        size_label="8B", quantization_level="Q4_K_M", file_type=15, size=4_920_753_328,
        kv_bytes=793_985_872, block_count=32, embedding_length=4096, feed_forward_length=14336,
        head_count=32, head_count_kv=8, decode_tps=6.0, prefill_tps=60.0, prefill_overhead_s=0.15,
        load_s=1.50, natural_len=40, quality="big", modified_at="2026-05-02T11:05:37.2004Z",
    ),
]
CONTEXT_LENGTH = 4096  # allocated context (/api/ps context_length)
TRAIN_CONTEXT = 131072  # llama.context_length in /api/show
JITTER = 0.04  # +- per decode step

# ---------------------------------------------------------------- wire helpers


def go_json(obj):
    """JSON as Go's encoding/json writes it: compact, UTF-8, with <, >, &,
    U+2028 and U+2029 escaped."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return (
        s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )


def rfc3339nano(ns=None):
    """Go's time.RFC3339Nano for a UTC time: nanoseconds, trailing zeros cut."""
    if ns is None:
        ns = time.time_ns()
    sec, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    f = f"{frac:09d}".rstrip("0")
    return f"{base}.{f}Z" if f else f"{base}Z"


_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def parse_go_duration(text):
    """time.ParseDuration, in seconds (float). Raises ValueError with Go's message."""
    s = text
    sign = 1.0
    if s[:1] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total, pos = 0.0, 0
    while pos < len(s):
        m = _GO_PART.match(s, pos)
        if not m:
            if re.fullmatch(r"\d+\.?\d*", s[pos:]):
                raise ValueError(f'time: missing unit in duration "{text}"')
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def keep_alive_seconds(value, default):
    """Ollama's api.Duration: a number is seconds, a string a Go duration;
    negative = forever (returned as -1), 0 = unload after the response.
    Raises ValueError (the message Ollama answers with 400)."""
    if value is None:
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        secs = float(value)
    elif isinstance(value, str):
        secs = parse_go_duration(value)
    else:
        go_type = {bool: "bool", list: "[]interface {}", dict: "map[string]interface {}"}[type(value)]
        raise ValueError(f"Unsupported type: '{go_type}'")
    return -1.0 if secs < 0 else secs


# ---------------------------------------------------------------- tokens

_TOKEN = re.compile(r"\s*(?:[A-Za-z0-9_']+|[^\sA-Za-z0-9_'])|\s+")


def tokenize(text):
    """Word-ish tokens (a word with its leading space, or one punctuation
    mark); "".join(tokenize(t)) == t."""
    return _TOKEN.findall(text)


def prompt_words(text):
    return text.split()


def prompt_token_count(words):
    """~1.3 tokens per word, at least 1."""
    return max(1, int(len(words) * 1.3 + 0.5))


def fake_token_ids(tokens):
    return [zlib.crc32(t.encode()) % 128000 for t in tokens]


# ---------------------------------------------------------------- answers

QUALITY = {
    "arithmetic": {
        "tiny": "You have 5 apples.",
        "mid": "3 + 2 - 1 = 4, so you have 4 apples.",
        "big": "You start with 3 apples, buy 2 more to have 5, and then eat 1. You have 4 apples left.",
    },
    "release": {
        "tiny": "The new version is out now. It has many improvements and fixes. Please update today!",
        "mid": "This release makes dashboards load twice as fast. We also fixed the bugs you reported, so thank you for the feedback!",
        "big": "Search is now noticeably faster, and saved filters finally sync across all of your devices. "
        "Thanks for the feedback that shaped this release, and keep it coming!",
    },
    "json": {
        "tiny": '{"title": "Upgrade", "risks": ["bugs"], "owner": "Platform", "priority": "high"}',
        "mid": '```json\n{\n  "title": "Database upgrade to version 16",\n  "risks": ["Longer maintenance window", '
        '"Extension incompatibility"],\n  "owner": "Platform"\n}\n```',
        "big": '{"title": "Migrate billing to the new cluster", "risks": ["Downtime during cutover", '
        '"Data drift if replication lags"], "owner": "Platform"}',
    },
}


def quality_kind(text):
    """Which built-in quality prompt `text` is, by keywords (or None)."""
    t = text.lower()
    if "apple" in t and ("how many" in t or "apples" in t):
        return "arithmetic"
    if any(k in t for k in ("release note", "changelog", "release announcement")):
        return "release"
    if "json" in t and sum(k in t for k in ("title", "risks", "owner")) >= 2:
        return "json"
    return None


LOREM = (
    "the model reads each token and the cache keeps the context warm while the scheduler "
    "moves work between slots so latency stays low and throughput grows with the batch size "
    "memory bandwidth limits decode speed because every step streams the weights once and "
    "prefill runs as one large matrix product that keeps the cores busy until the first token "
    "appears quantized weights are smaller and faster but lose a little accuracy on hard prompts "
    "a benchmark should vary the prompt measure time to first token and report percentiles"
).split()


def lorem(rng, min_tokens):
    """Sentences of lorem-like words until at least `min_tokens` tokens."""
    out, n = [], 0
    while n < min_tokens:
        words = [rng.choice(LOREM) for _ in range(rng.randint(7, 14))]
        sentence = " ".join(words).capitalize() + rng.choice(".....,!")
        if sentence.endswith(","):
            sentence = sentence[:-1] + "."
        out.append(sentence)
        n += len(tokenize(" " + sentence))
    return " ".join(out)


@dataclasses.dataclass
class Plan:
    tokens: list  # visible tokens, in order
    reason: str  # "stop" or "length"
    eos: bool  # a natural stop: one more (hidden) decode step
    fail_after: int = None  # [fail-midstream]: tokens before the error
    cut_after: int = None  # [no-done]: tokens before the stream just ends


def plan_answer(spec, user_text, limit=None, seed=None, temperature=None):
    """The answer `spec` gives to `user_text` (the last user message or the
    prompt). `limit` (num_predict / max_tokens, None or <= 0: none): a
    generic answer runs to exactly `limit` tokens (done_reason "length"); a
    canned answer stops naturally if it is shorter. Deterministic given the
    seed (no seed: 0; temperature 0: the seed does not matter)."""
    if limit is not None and limit <= 0:
        limit = None
    kind = quality_kind(user_text)
    if temperature is not None and temperature <= 0:
        seed = 0
    key = f"{spec.name}|{seed if seed is not None else 0}|{user_text}"
    rng = random.Random(zlib.crc32(key.encode()))
    if "[short]" in user_text:
        natural = tokenize("Sure, here it is.")
    elif kind:
        natural = tokenize(QUALITY[kind][spec.quality])
    else:
        natural = None
    if natural is not None:
        if limit is not None and limit < len(natural):
            plan = Plan(natural[:limit], "length", False)
        else:
            plan = Plan(natural, "stop", True)
    elif limit is not None:
        plan = Plan(tokenize(lorem(rng, limit))[:limit], "length", False)
    else:
        n = spec.natural_len + rng.randint(-4, 4)
        plan = Plan(tokenize(lorem(rng, n)), "stop", True)
    if "[fail-midstream]" in user_text:
        plan.fail_after = min(3, len(plan.tokens))
    elif "[no-done]" in user_text:
        plan.cut_after = min(5, len(plan.tokens))
    return plan


# ---------------------------------------------------------------- scheduler


class ModelNotFound(Exception):
    pass


class ServerBusy(Exception):
    pass


class Runner:
    """A loaded model: its memory, its parallel slots, its prompt cache."""

    def __init__(self, spec, engine):
        self.spec = spec
        self.engine = engine
        self.maps = []  # anonymous mmaps standing in for the weights
        self.slots = asyncio.Semaphore(engine.parallel)
        self.refs = 0  # requests holding the runner (queued or running)
        self.decoding = 0  # requests in their decode loop
        self.keep_alive = engine.default_keep_alive
        self.expires_ns = 0
        self.timer = None
        self.unload_when_idle = False
        self.cache = []  # word lists of recent prompts (one per slot)
        self.last_used = time.monotonic()

    @property
    def mem_bytes(self):
        return sum(len(m) for m in self.maps)

    def set_expiry(self):
        if self.keep_alive < 0:
            # Go: time.Now().Add(math.MaxInt64) -> about 292 years ahead
            self.expires_ns = time.time_ns() + (2**63 - 1)
        else:
            self.expires_ns = time.time_ns() + int(self.keep_alive * 1e9)

    def size_vram(self):
        vram = self.engine.gpu_vram_bytes
        if vram is None:
            return 0
        size = self.spec.loaded_size
        if size <= vram:
            return size
        # partial offload: the layers that fit, less some headroom
        part = int(vram * 0.9) // self.spec.block_count * self.spec.block_count
        return max(0, min(part, size - 1))

    def free(self):
        for m in self.maps:
            m.close()
        self.maps = []
        self.cache = []


class Engine:
    def __init__(self, specs, speed_scale=1.0, mem_scale=25.0, parallel=1, default_keep_alive=300.0,
                 gpu_vram_gb=None, max_loaded=3, max_queue=512, min_prefill_tokens=0, batch_penalty=0.25):
        self.specs = {s.name: s for s in specs}
        self.speed_scale = speed_scale
        self.mem_scale = mem_scale
        self.parallel = max(1, parallel)
        self.default_keep_alive = default_keep_alive
        self.gpu_vram_bytes = None if gpu_vram_gb is None else int(gpu_vram_gb * 2**30)
        self.max_loaded = max(1, max_loaded)
        self.max_queue = max_queue
        self.min_prefill_tokens = min_prefill_tokens
        self.batch_penalty = batch_penalty
        self.loaded = {}  # name -> Runner
        self.load_lock = asyncio.Lock()
        self.pending = 0

    def spec(self, name):
        s = self.specs.get(name)
        if s is None:
            raise ModelNotFound(name)
        return s

    def mem_target(self, spec):
        return int(spec.size / 1e9 * self.mem_scale * 2**20)

    async def _load(self, spec):
        """Cold load: takes load_s / speed_scale; memory grows in steps as it loads."""
        # make room, like OLLAMA_MAX_LOADED_MODELS: unload the least recently used idle ones
        while len(self.loaded) >= self.max_loaded:
            idle = [r for r in self.loaded.values() if r.refs == 0]
            if not idle:
                break
            self.unload(min(idle, key=lambda r: r.last_used).spec.name)
        r = Runner(spec, self)
        total = self.mem_target(spec)
        steps = 8
        start = time.monotonic()
        duration = spec.load_s / self.speed_scale
        for i in range(steps):
            n = total // steps + (total % steps if i == steps - 1 else 0)
            if n > 0:
                m = mmap.mmap(-1, n)
                mv = memoryview(m)
                mv[::4096] = b"\x01" * len(range(0, n, 4096))  # touch every page: RSS grows
                mv.release()
                r.maps.append(m)
            await asyncio.sleep(max(0.0, start + duration * (i + 1) / steps - time.monotonic()))
        self.loaded[spec.name] = r
        return r

    def unload(self, name):
        r = self.loaded.pop(name, None)
        if r is None:
            return
        if r.timer:
            r.timer.cancel()
            r.timer = None
        r.free()

    def request_unload(self, name):
        """keep_alive 0 with no prompt: unload now, or when the model goes idle."""
        r = self.loaded.get(name)
        if r is None:
            return
        r.keep_alive = 0.0
        if r.refs == 0:
            self.unload(name)
        else:
            r.unload_when_idle = True

    async def ensure_loaded(self, spec):
        """The runner for `spec`, loading it if need be. Returns (runner,
        waited): waited is true when it was loaded now or had to wait for a load."""
        r = self.loaded.get(spec.name)
        if r is not None:
            return r, False
        async with self.load_lock:
            r = self.loaded.get(spec.name)
            if r is not None:
                return r, True
            return await self._load(spec), True

    async def start(self, name, keep_alive=None, t0_ns=None):
        """Queue for a slot on `name` (loading it if needed): a Job.
        t0_ns: when the request arrived (monotonic ns)."""
        spec = self.spec(name)
        if self.pending >= self.max_queue:
            raise ServerBusy()
        t0_ns = t0_ns if t0_ns is not None else time.monotonic_ns()
        self.pending += 1
        try:
            while True:
                r, load_wait = await self.ensure_loaded(spec)
                r.refs += 1
                if self.loaded.get(spec.name) is r:
                    break
                r.refs -= 1  # unloaded meanwhile; load again
            if r.timer:
                r.timer.cancel()
                r.timer = None
            if keep_alive is not None:
                r.keep_alive = keep_alive
                r.unload_when_idle = False
            r.set_expiry()
            waited = r.slots.locked()
            try:
                await r.slots.acquire()
            except BaseException:
                self._release_ref(r)
                raise
        finally:
            self.pending -= 1
        t_slot = time.monotonic_ns()
        load_ns = (t_slot - t0_ns) if (load_wait or waited) else 0
        return Job(self, r, t0_ns, t_slot, load_ns)

    async def load_only(self, name, keep_alive=None):
        """An empty prompt: load the model (no slot needed)."""
        spec = self.spec(name)
        r, _ = await self.ensure_loaded(spec)
        if keep_alive is not None:
            r.keep_alive = keep_alive
            if keep_alive != 0:
                r.unload_when_idle = False
        r.set_expiry()
        if r.refs == 0:
            self._arm_timer(r)

    def _arm_timer(self, r):
        if r.timer:
            r.timer.cancel()
            r.timer = None
        if r.keep_alive == 0 or r.unload_when_idle:
            self.unload(r.spec.name)
        elif r.keep_alive > 0:
            loop = asyncio.get_running_loop()
            r.timer = loop.call_later(r.keep_alive, self._expire, r)

    def _expire(self, r):
        r.timer = None
        if r.refs == 0 and self.loaded.get(r.spec.name) is r:
            self.unload(r.spec.name)

    def _release_ref(self, r):
        r.refs -= 1
        r.last_used = time.monotonic()
        r.set_expiry()
        if r.refs == 0 and self.loaded.get(r.spec.name) is r:
            self._arm_timer(r)

    def shutdown(self):
        for name in list(self.loaded):
            self.unload(name)


class Job:
    """One request holding a slot: prefill, then decode, then finish()."""

    def __init__(self, engine, runner, t0_ns, t_slot_ns, load_ns):
        self.engine = engine
        self.runner = runner
        self.spec = runner.spec
        self.t0_ns = t0_ns
        self.t_slot_ns = t_slot_ns
        self.load_ns = load_ns
        self.prompt_count = 0
        self.prompt_cached = 0
        self.prompt_evaluated = 0
        self.prompt_ns = 0
        self.eval_count = 0
        self.eval_ns = 0
        self.t_prefill_end = t_slot_ns
        self.done = False
        self.rng = random.Random()

    async def prefill(self, text):
        """Evaluates the prompt: the part not in the model's prompt cache costs time."""
        words = prompt_words(text)
        count = prompt_token_count(words)
        best = 0
        cache = self.runner.cache
        hit = None
        for i, cached in enumerate(cache):
            n = 0
            for a, b in zip(cached, words):
                if a != b:
                    break
                n += 1
            if n > best:
                best, hit = n, i
        cached_tokens = count if best == len(words) else min(count, int(best * 1.3))
        cached_tokens = max(0, min(cached_tokens, count - self.engine.min_prefill_tokens))
        evaluated = count - cached_tokens
        if hit is not None:
            cache.pop(hit)
        cache.insert(0, words)
        del cache[self.engine.parallel:]
        if evaluated > 0:
            secs = (self.spec.prefill_overhead_s + evaluated / self.spec.prefill_tps) / self.engine.speed_scale
            await sleep_until(time.monotonic() + secs)
        now = time.monotonic_ns()
        self.prompt_count = count
        self.prompt_cached = cached_tokens
        self.prompt_evaluated = evaluated
        self.prompt_ns = now - self.t_slot_ns if evaluated > 0 else 0
        self.t_prefill_end = now

    async def decode(self, n):
        """One decode step per token, `n` times; yields after each step."""
        r = self.runner
        r.decoding += 1
        try:
            due = time.monotonic()
            for _ in range(n):
                base = 1.0 / (self.spec.decode_tps * self.engine.speed_scale)
                contention = 1.0 + self.engine.batch_penalty * max(0, r.decoding - 1)
                due += base * contention * (1.0 + self.rng.uniform(-JITTER, JITTER))
                await sleep_until(due)
                self.eval_count += 1
                self.eval_ns = time.monotonic_ns() - self.t_prefill_end
                yield
        finally:
            r.decoding -= 1

    def total_ns(self):
        return time.monotonic_ns() - self.t0_ns

    def finish(self):
        """Frees the slot; unloads now if keep_alive is 0 and nothing else holds the model."""
        if self.done:
            return
        self.done = True
        self.runner.slots.release()
        self.engine._release_ref(self.runner)


async def sleep_until(deadline):
    """Sleeps until time.monotonic() reaches `deadline` (absolute, so steps do not drift)."""
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
    else:
        await asyncio.sleep(0)


# ---------------------------------------------------------------- command line and serving


def base_parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: pick a free one)")
    p.add_argument("--speed-scale", type=float, default=1.0,
                   help="divide every load, prefill and decode time by this (4.0: four times faster)")
    p.add_argument("--mem-scale", type=float, default=25.0,
                   help="MiB of resident memory per GB of model file while a model is loaded")
    p.add_argument("--models", default="",
                   help="comma-separated subset of " + ",".join(s.name for s in MODELS) + " (default: all)")
    p.add_argument("--batch-penalty", type=float, default=0.25,
                   help="each other request decoding on the same model slows a decode step by this fraction")
    return p


def selected_models(arg):
    if not arg:
        return list(MODELS)
    names = [n.strip() for n in arg.split(",") if n.strip()]
    known = {s.name: s for s in MODELS}
    bad = [n for n in names if n not in known]
    if bad:
        sys.exit(f"unknown model(s) {', '.join(bad)}; known: {', '.join(known)}")
    return [known[n] for n in names]


def serve(app, port, on_ready=None):
    """Serves `app` on 127.0.0.1:`port` until SIGTERM or SIGINT; prints the
    "listening on" line once it accepts connections (after `on_ready()`)."""
    asyncio.run(_serve(app, port, on_ready))


async def _serve(app, port, on_ready):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, handle_signals=False)
    await runner.setup()
    site = web.SockSite(runner, sock, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if on_ready is not None:
        await on_ready()
    await site.start()
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    await stop.wait()
    await runner.cleanup()
    sys.stdout.flush()
    os._exit(0)  # no lingering tasks or exit-time noise


def go_json_response(obj, status=200):
    return web.Response(status=status, body=go_json(obj).encode(),
                        headers={"Content-Type": "application/json; charset=utf-8"})


def now_s():
    return int(time.time())
