"""A RAG-style tutoring service: students ask a book's characters questions
and get streamed answers that quote the page they come from.

  POST /ask            {"user_id": "...", "char_id": "...", "text": "..."}
                       answers as Server-Sent Events: a first token soon
                       (--first-chunk-ms), more tokens with small gaps
                       (--token-gap-ms), then a final {"done": true} event.
                       Most answers quote their page, "(p.12)"; a share of
                       them (--no-quote-rate) forget to.
  GET  /history/{user}?limit=N   the user's last N questions and answers (JSON)
  GET  /health         {"status": "ok", ...}

Retrieval is real work: the question is scored against every page of an
in-memory book (BM25 over an inverted index), and the answer is cut from
the best page.

  python3 rag_server.py --port 8002 [--no-quote-rate 0.05] [--seed 7]

It prints "listening on http://127.0.0.1:PORT" once it accepts connections
and exits cleanly on SIGTERM.
"""

import asyncio
import collections
import json
import math
import random
import re
import sys
import time

from aiohttp import web

sys.dont_write_bytecode = True  # no __pycache__ beside the servers
import serving  # noqa: E402

CHARACTERS = {
    "arieol": "Arieol, the lighthouse keeper who reads the tides",
    "phillip": "Phillip, the cartographer who maps the northern islands",
    "princhetta": "Princhetta, the exiled princess who commands the harbour fleet",
}

# The book's words, by theme; pages mix a main theme with a little of others.
THEMES = {
    "tides": "tide tides moon current shore harbour flood ebb salt wave waves sea "
    "lighthouse lamp keeper storm wind rock reef channel mooring",
    "maps": "map maps island islands north compass chart coast survey ink border "
    "river mountain valley measure distance route journey travel ",
    "court": "princess queen court fleet exile crown throne council banner ship "
    "ships captain admiral loyalty treaty rebellion palace harbour",
    "chapters": "chapter chapters page summary story beginning ending second first "
    "third last book tale narrator lesson meaning",
    "people": "arieol phillip princhetta brennan alice bob maya friend enemy sister "
    "brother mother father stranger teacher student",
}
GLUE = "the a of and to in that is was for on with as by at from it his her their".split()
TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text):
    return TOKEN.findall(text.lower())


class Book:
    """Pages of generated prose and a BM25 index over them."""

    K1, B = 1.2, 0.75

    def __init__(self, pages, seed):
        rng = random.Random(seed)
        themes = {k: v.split() for k, v in THEMES.items()}
        names = list(themes)
        self.pages = []
        for _ in range(pages):
            main = rng.choice(names)
            words = []
            for _ in range(rng.randint(140, 220)):
                r = rng.random()
                if r < 0.45:
                    words.append(rng.choice(GLUE))
                elif r < 0.85:
                    words.append(rng.choice(themes[main]))
                else:
                    words.append(rng.choice(themes[rng.choice(names)]))
            sentences, i = [], 0
            while i < len(words):
                n = rng.randint(8, 16)
                s = " ".join(words[i : i + n])
                sentences.append(s[0].upper() + s[1:] + ".")
                i += n
            self.pages.append(sentences)
        self.postings = collections.defaultdict(dict)
        self.lengths = []
        for p, sentences in enumerate(self.pages):
            terms = tokenize(" ".join(sentences))
            self.lengths.append(len(terms))
            for t in terms:
                self.postings[t][p] = self.postings[t].get(p, 0) + 1
        self.avg_len = sum(self.lengths) / len(self.lengths)
        n = len(self.pages)
        self.idf = {t: math.log(1 + (n - len(ps) + 0.5) / (len(ps) + 0.5)) for t, ps in self.postings.items()}

    def score_pages(self, terms):
        scores = collections.defaultdict(float)
        for t in terms:
            ps = self.postings.get(t)
            if not ps:
                continue
            idf = self.idf[t]
            for p, tf in ps.items():
                norm = self.K1 * (1 - self.B + self.B * self.lengths[p] / self.avg_len)
                scores[p] += idf * tf * (self.K1 + 1) / (tf + norm)
        return scores

    def retrieve(self, question, char_id):
        """The best page for the question (numbered from 1) and its best sentences."""
        terms = tokenize(question) + tokenize(char_id)
        scores = self.score_pages(terms)
        if not scores:
            page = sum(map(ord, question)) % len(self.pages)
        else:
            page = max(scores, key=scores.get)
        wanted = set(terms)
        ranked = sorted(
            self.pages[page],
            key=lambda s: -len(wanted.intersection(tokenize(s))),
        )
        return page + 1, ranked[:2]


class Service:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.book = Book(args.pages, args.seed)
        self.history = collections.defaultdict(lambda: collections.deque(maxlen=100))
        self.started = time.time()
        self.answered = 0

    def compose(self, persona, sentences, page, quote):
        """The answer's tokens: the persona's opening, the page's sentences,
        and the quote of the page (unless this answer forgets it)."""
        words = f"As {persona.split(',')[0]} I would say:".split() + " ".join(sentences).split()
        if quote:
            words.append(f"(p.{page})")
        tokens, i = [], 0
        while i < len(words):
            n = self.rng.randint(1, 3)
            tokens.append(" ".join(words[i : i + n]) + " ")
            i += n
        return tokens

    async def ask(self, request):
        try:
            q = await request.json()
            user, char, text = q["user_id"], q["char_id"], q["text"]
            if not all(isinstance(v, str) and v for v in (user, char, text)):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return web.json_response(
                {"error": "expected JSON {\"user_id\": str, \"char_id\": str, \"text\": str}"}, status=400
            )
        t0 = time.monotonic()
        page, sentences = self.book.retrieve(text, char)
        quote = self.rng.random() >= self.args.no_quote_rate
        tokens = self.compose(CHARACTERS.get(char, char), sentences, page, quote)
        if len(tokens) > self.args.max_tokens:
            tokens = tokens[: self.args.max_tokens - 1] + tokens[-1:]
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        lo, hi = self.args.first_chunk_ms
        first_at = t0 + self.rng.uniform(lo, hi) / 1000
        await asyncio.sleep(max(0.0, first_at - time.monotonic()))
        glo, ghi = self.args.token_gap_ms
        for i, tok in enumerate(tokens):
            if i:
                await asyncio.sleep(self.rng.uniform(glo, ghi) / 1000)
            await resp.write(b"data: " + json.dumps({"delta": tok}).encode() + b"\n\n")
        answer = "".join(tokens).strip()
        final = {"done": True, "tokens": len(tokens), "page": page, "ms": round((time.monotonic() - t0) * 1000, 1)}
        await resp.write(b"data: " + json.dumps(final).encode() + b"\n\n")
        await resp.write_eof()
        self.history[user].append(
            {"char_id": char, "text": text, "answer": answer, "page": page, "at": round(time.time(), 3)}
        )
        self.answered += 1
        return resp

    async def history_of(self, request):
        user = request.match_info["user"]
        try:
            limit = int(request.query.get("limit", "10"))
            if not 1 <= limit <= 100:
                raise ValueError
        except ValueError:
            return web.json_response({"error": "limit must be an integer from 1 to 100"}, status=400)
        items = list(self.history.get(user, ()))[-limit:]
        return web.json_response({"user_id": user, "count": len(items), "items": items})

    async def health(self, request):
        return web.json_response(
            {
                "status": "ok",
                "pages": len(self.book.pages),
                "answered": self.answered,
                "uptime_s": round(time.time() - self.started, 1),
            }
        )


def main():
    p = serving.parser(__doc__.split("\n\n")[0])
    p.add_argument("--no-quote-rate", type=float, default=0.05, help="share of answers without a page quote")
    p.add_argument("--first-chunk-ms", type=serving.span, default=(20, 80), help="delay to the first token, e.g. 20..80")
    p.add_argument("--token-gap-ms", type=serving.span, default=(5, 25), help="gap between tokens, e.g. 5..25")
    p.add_argument("--max-tokens", type=int, default=24, help="most token chunks in one answer")
    p.add_argument("--pages", type=int, default=300, help="pages in the book")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    if not 0 <= args.no_quote_rate <= 1:
        p.error("--no-quote-rate must be from 0 to 1")
    if args.max_tokens < 2:
        p.error("--max-tokens must be at least 2")
    svc = Service(args)
    app = serving.application()
    app.router.add_post("/ask", svc.ask)
    app.router.add_get("/history/{user}", svc.history_of)
    app.router.add_get("/health", svc.health)
    serving.serve(app, args.port)


if __name__ == "__main__":
    main()
