"""A search-and-chat API over an in-memory document store, with the CPU
work done in plain Python so that a flame graph names its functions.

  GET  /search?q=...&k=10      BM25 over an inverted index, top k with snippets
  POST /chat                   {"message": "...", "session_id": "..."}: retrieves
                               context, composes a reply (and waits a little,
                               as for a model), keeps a bounded session history
  POST /vector/search          {"vector": [64 floats]} or {"query": "..."}, and
                               "top_k": cosine similarity over stored embeddings
  GET  /health                 {"status": "ok", ...}
  GET  /metrics                Prometheus metrics: requests by route, and the
                               retrieval's own latency (retrieval_latency_ms,
                               in milliseconds as the seed's service has it)

  python3 api_server.py --port 8001 [--leak] [--leak-kib 64] [--docs 1500]

--leak keeps --leak-kib KiB of every /search answer forever, so memory grows
with the number of searches (a leak for a leak check to find); without it,
memory stays flat once the caches are full.

It prints "listening on http://127.0.0.1:PORT" once it accepts connections
and exits cleanly on SIGTERM.
"""

import asyncio
import collections
import contextlib
import heapq
import itertools
import math
import random
import re
import sys
import time
import zlib

import prometheus_client
from aiohttp import web

sys.dont_write_bytecode = True  # no __pycache__ beside the servers
import serving  # noqa: E402

TOPICS = {
    "memory": "memory leak heap allocation garbage collector rss resident pages cache eviction "
    "buffer pool fragmentation allocator object reference cycle weakref",
    "latency": "latency p95 p99 percentile tail slow request queue backlog timeout retry "
    "throughput saturation contention lock wait scheduler",
    "python": "python interpreter gil asyncio coroutine event loop uvicorn gunicorn worker "
    "thread process import module profiler flame graph",
    "search": "search index query ranking bm25 score document term posting token "
    "relevance embedding vector similarity cosine nearest neighbour",
    "deploy": "kubernetes pod container deployment rollout replica node cluster service "
    "ingress autoscaler limit request cpu budget",
    "llm": "model prompt token context window generation stream chunk temperature "
    "inference gpu batch quantization decode prefill",
}
GLUE = "the a of and to in is for on with when how why what that this it".split()
TOKEN = re.compile(r"[a-z0-9]+")
DIM = 64


def tokenize(text):
    return TOKEN.findall(text.lower())


def embed(terms):
    """A unit vector from hashed terms (the hashing trick)."""
    v = [0.0] * DIM
    for t in terms:
        h = zlib.crc32(t.encode())
        v[h % DIM] += 1.0 if h & 0x100 else -1.0
        v[(h >> 9) % DIM] += 0.5
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm for x in v]


class Store:
    """Generated documents, a BM25 index and an embedding per document."""

    K1, B = 1.2, 0.75

    def __init__(self, docs, vectors, seed):
        rng = random.Random(seed)
        topics = {k: v.split() for k, v in TOPICS.items()}
        names = list(topics)
        self.docs = []
        for i in range(docs):
            main = rng.choice(names)
            words = []
            for _ in range(rng.randint(60, 140)):
                r = rng.random()
                if r < 0.35:
                    words.append(rng.choice(GLUE))
                elif r < 0.85:
                    words.append(rng.choice(topics[main]))
                else:
                    words.append(rng.choice(topics[rng.choice(names)]))
            title = " ".join(rng.sample(topics[main], 3)).title()
            self.docs.append({"id": i, "topic": main, "title": title, "text": " ".join(words)})
        self.postings = collections.defaultdict(dict)
        self.lengths = []
        for d in self.docs:
            terms = tokenize(d["title"] + " " + d["text"])
            self.lengths.append(len(terms))
            for t in terms:
                self.postings[t][d["id"]] = self.postings[t].get(d["id"], 0) + 1
        self.avg_len = sum(self.lengths) / len(self.lengths)
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - len(ps) + 0.5) / (len(ps) + 0.5)) for t, ps in self.postings.items()}
        self.vectors = [(d["id"], embed(tokenize(d["text"]))) for d in self.docs[:vectors]]

    def score_postings(self, terms):
        scores = collections.defaultdict(float)
        for t in terms:
            ps = self.postings.get(t)
            if not ps:
                continue
            idf = self.idf[t]
            for doc, tf in ps.items():
                norm = self.K1 * (1 - self.B + self.B * self.lengths[doc] / self.avg_len)
                scores[doc] += idf * tf * (self.K1 + 1) / (tf + norm)
        return scores

    def bm25_search(self, query, k):
        terms = tokenize(query)
        scores = self.score_postings(terms)
        top = heapq.nlargest(k, scores.items(), key=lambda kv: kv[1])
        wanted = set(terms)
        return [
            {
                "id": doc,
                "title": self.docs[doc]["title"],
                "score": round(score, 4),
                "snippet": make_snippet(self.docs[doc]["text"], wanted),
            }
            for doc, score in top
        ]

    def cosine_top_k(self, vector, k):
        scored = ((sum(map(float.__mul__, vector, v)), doc) for doc, v in self.vectors)
        top = heapq.nlargest(k, scored)
        return [{"id": doc, "title": self.docs[doc]["title"], "score": round(s, 4)} for s, doc in top]


def make_snippet(text, wanted, width=12):
    """The window of `width` words holding the most query terms, marked."""
    words = text.split()
    seen = list(itertools.accumulate((w in wanted for w in words), initial=0))
    start = max(range(max(1, len(words) - width + 1)), key=lambda i: seen[min(i + width, len(words))] - seen[i])
    return " ".join(f"**{w}**" if w in wanted else w for w in words[start : start + width])


def compose_reply(message, hits):
    """A reply built from the retrieved documents' snippets."""
    if not hits:
        return f"I found nothing about '{message}'."
    parts = [f"About '{message}':"]
    for h in hits:
        parts.append(f"{h['title']} says {h['snippet'].replace('**', '')}.")
    return " ".join(parts)


RETRIEVAL_MS = prometheus_client.Histogram(
    "retrieval_latency_ms",
    "Time to retrieve documents, in milliseconds, by kind of request",
    ["kind"],
    registry=serving.REGISTRY,
    buckets=(0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000),
)
RETRIEVAL_ERRORS = prometheus_client.Counter(
    "retrieval_errors", "Requests refused before retrieval, by kind", ["kind"], registry=serving.REGISTRY
)


@contextlib.contextmanager
def retrieval(kind):
    """Times a retrieval into retrieval_latency_ms."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        RETRIEVAL_MS.labels(kind).observe((time.perf_counter() - t0) * 1000)


class Service:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.store = Store(args.docs, args.vectors, args.seed)
        self.sessions = collections.OrderedDict()
        self.retained = []
        self.counts = collections.Counter()
        self.started = time.time()

    async def search(self, request):
        q = request.query.get("q", "").strip()
        if not q:
            RETRIEVAL_ERRORS.labels("bad_request").inc()
            return web.json_response({"error": "give a query: /search?q=words"}, status=400)
        try:
            k = int(request.query.get("k", "10"))
            if not 1 <= k <= 100:
                raise ValueError
        except ValueError:
            return web.json_response({"error": "k must be an integer from 1 to 100"}, status=400)
        with retrieval("search"):
            results = self.store.bm25_search(q, k)
        self.counts["search"] += 1
        if self.args.leak:
            # The bug this flag plants: every answer is kept "for analytics".
            unit = (q + " ").encode()
            self.retained.append(unit * (self.args.leak_kib * 1024 // len(unit) + 1))
        return web.json_response({"query": q, "count": len(results), "results": results})

    async def chat(self, request):
        try:
            body = await request.json()
            message = body["message"]
            session = str(body.get("session_id", "anonymous"))
            if not isinstance(message, str) or not message.strip():
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "expected JSON {\"message\": str, \"session_id\": str}"}, status=400)
        with retrieval("chat"):
            hits = self.store.bm25_search(message, 3)
        reply = compose_reply(message, hits)
        lo, hi = self.args.model_ms
        await asyncio.sleep(self.rng.uniform(lo, hi) / 1000)
        turns = self.sessions.pop(session, None) or collections.deque(maxlen=8)
        turns.append({"message": message, "reply": reply})
        self.sessions[session] = turns
        while len(self.sessions) > self.args.max_sessions:
            self.sessions.popitem(last=False)
        self.counts["chat"] += 1
        return web.json_response(
            {"session_id": session, "turn": len(turns), "reply": reply, "sources": [h["id"] for h in hits]}
        )

    async def vector_search(self, request):
        try:
            body = await request.json()
            k = int(body.get("top_k", 5))
            if not 1 <= k <= 100:
                raise ValueError
            if "vector" in body:
                vector = [float(x) for x in body["vector"]]
                if len(vector) != DIM:
                    raise ValueError
            else:
                vector = embed(tokenize(str(body["query"])))
        except (ValueError, KeyError, TypeError):
            return web.json_response(
                {"error": f"expected JSON {{\"vector\": [{DIM} numbers]}} or {{\"query\": str}}, and top_k from 1 to 100"},
                status=400,
            )
        with retrieval("vector"):
            results = self.store.cosine_top_k(vector, k)
        self.counts["vector"] += 1
        return web.json_response({"count": len(results), "results": results})

    async def health(self, request):
        return web.json_response(
            {
                "status": "ok",
                "docs": len(self.store.docs),
                "sessions": len(self.sessions),
                "retained_bytes": sum(map(len, self.retained)),
                "served": dict(self.counts),
                "uptime_s": round(time.time() - self.started, 1),
            }
        )


def main():
    p = serving.parser(__doc__.split("\n\n")[0])
    p.add_argument("--leak", action="store_true", help="keep part of every /search answer forever")
    p.add_argument("--leak-kib", type=int, default=64, help="KiB kept per /search with --leak")
    p.add_argument("--docs", type=int, default=1500, help="documents in the store")
    p.add_argument("--vectors", type=int, default=1000, help="documents with an embedding")
    p.add_argument("--model-ms", type=serving.span, default=(10, 40), help="the model's time per /chat, e.g. 10..40")
    p.add_argument("--max-sessions", type=int, default=500, help="chat sessions kept")
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args()
    if args.leak_kib < 1:
        p.error("--leak-kib must be at least 1")
    svc = Service(args)
    app = serving.application()
    app.router.add_get("/search", svc.search)
    app.router.add_post("/chat", svc.chat)
    app.router.add_post("/vector/search", svc.vector_search)
    app.router.add_get("/health", svc.health)
    serving.serve(app, args.port)


if __name__ == "__main__":
    main()
