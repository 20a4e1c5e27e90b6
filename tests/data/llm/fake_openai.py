"""A fake OpenAI-compatible LLM server over the same three fake models as
fake_ollama.py (sizes, speeds, memory, answers: fake_models.py), in the
flavour of a real server, so that a client written against it works
unchanged against vLLM, llama.cpp's llama-server or an sse-starlette server.

  GET  /v1/models             {"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}
  POST /v1/chat/completions   {"model", "messages", "stream", "stream_options": {"include_usage"},
                              "max_tokens" (or "max_completion_tokens"), "temperature", "seed"}

Flavours (--flavor):
  vllm      first chunk role-only (delta {"role": "assistant", "content": ""}), then one chunk
            per token; the last chunk carries finish_reason (with a natural stop it is the
            end-of-sequence token, delta {"content": ""}; with max_tokens it is the last
            token's own chunk); with include_usage a {"choices": [], "usage": {...}} chunk;
            then "data: [DONE]". continuous_usage_stats adds usage to every chunk.
  llamacpp  like llama-server: first chunk delta {"role": "assistant", "content": null},
            content chunks, a final chunk delta {} with finish_reason, "usage" and
            "timings" {cache_n, prompt_n, prompt_ms, prompt_per_token_ms, prompt_per_second,
            predicted_n, predicted_ms, predicted_per_token_ms, predicted_per_second};
            then "data: [DONE]". Errors mid-stream are an "error: {...}" line (not "data:").
  plain     like sse-starlette servers (llama-cpp-python): CRLF line endings, ": ping - <time>"
            comment events mixed in (--ping-interval), Python's json.dumps spacing, role-only
            first chunk, no usage in the stream even when asked.
  (fake_ollama.py serves the "ollama" flavour on its /v1 routes: role in the first content
  chunk, usage chunk only with include_usage.)

Models are loaded before the "listening on" line (--load eager, like vLLM and
llama-server) or on first use (--load lazy, like LM Studio's JIT loading), and
stay loaded. --parallel requests run at once per model (default: vllm 16,
llamacpp 4, plain 1); more queue. Prompt prefixes are cached per model.

Failure markers in the last user message: [fail-midstream], [no-done], [short]
(see fake_ollama.py).

  python3 fake_openai.py --port 8000 [--flavor vllm|llamacpp|plain] [--speed-scale 1]
      [--mem-scale 25] [--parallel N] [--load eager|lazy] [--models tiny:1b,...]
      [--ping-interval 0.05]

It prints "listening on http://127.0.0.1:PORT" once it accepts connections
and exits cleanly on SIGTERM.
"""

import asyncio
import datetime
import json
import os
import random
import string
import sys
import time
import uuid

from aiohttp import web

sys.dont_write_bytecode = True  # no __pycache__ beside the servers
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_models as fm  # noqa: E402

FLAVORS = ("vllm", "llamacpp", "plain", "ollama")
FINGERPRINT = {"llamacpp": "b6097-9515c613", "ollama": "fp_ollama"}
OWNED_BY = {"vllm": "vllm", "llamacpp": "llamacpp", "plain": "me", "ollama": "library"}
RUN_ERROR = "an error was encountered while running the model"
CREATED = 1748000000  # when the fake models were "created"


def dumps(flavor, obj):
    if flavor == "ollama":
        return fm.go_json(obj)
    if flavor == "plain":
        return json.dumps(obj)  # Python's defaults: ", " and ": ", ASCII escapes
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def error_body(flavor, status, message, kind=None):
    if flavor == "vllm":
        kind = kind or {400: "BadRequestError", 404: "NotFoundError"}.get(status, "InternalServerError")
        return {"error": {"message": message, "type": kind, "param": None, "code": status}}
    if flavor == "llamacpp":
        kind = kind or {400: "invalid_request_error", 404: "not_found_error"}.get(status, "server_error")
        return {"error": {"code": status, "message": message, "type": kind}}
    if flavor == "ollama":
        kind = kind or {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}
    kind = kind or {400: "invalid_request_error", 404: "invalid_request_error"}.get(status, "server_error")
    code = {404: "model_not_found"}.get(status)
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def not_found_message(flavor, name):
    return {
        "vllm": f"The model `{name}` does not exist.",
        "llamacpp": "model not found",
        "ollama": f'model "{name}" not found, try pulling it first',
    }.get(flavor, f"The model `{name}` does not exist")


def completion_id(flavor):
    if flavor == "vllm":
        return "chatcmpl-" + uuid.uuid4().hex
    if flavor == "llamacpp":
        return "chatcmpl-" + "".join(random.choices(string.ascii_letters + string.digits, k=32))
    if flavor == "ollama":
        return f"chatcmpl-{random.randint(0, 999)}"
    return "chatcmpl-" + str(uuid.uuid4())


def number(v, kind):
    if v is None or isinstance(v, bool):
        return None
    try:
        return kind(v)
    except (TypeError, ValueError):
        return None


class OpenAI:
    def __init__(self, engine, flavor, ping_interval=0.05):
        self.engine = engine
        self.flavor = flavor
        self.ping_interval = ping_interval

    def json(self, obj, status=200):
        ctype = "application/json; charset=utf-8"
        return web.Response(status=status, body=dumps(self.flavor, obj).encode(), headers={"Content-Type": ctype})

    def error(self, status, message, kind=None):
        return self.json(error_body(self.flavor, status, message, kind), status)

    async def models(self, request):
        data = []
        for s in self.engine.specs.values():
            m = {"id": s.name, "object": "model", "created": CREATED, "owned_by": OWNED_BY[self.flavor]}
            if self.flavor == "vllm":
                m.update({"root": s.name, "parent": None, "max_model_len": fm.CONTEXT_LENGTH})
            elif self.flavor == "llamacpp":
                m["meta"] = {"vocab_type": 2, "n_vocab": 128256, "n_ctx_train": fm.TRAIN_CONTEXT,
                             "n_embd": s.embedding_length, "n_params": s.parameter_count, "size": s.size}
            data.append(m)
        return self.json({"object": "list", "data": data})

    async def chat_completions(self, request):
        t0 = time.monotonic_ns()
        flavor = self.flavor
        raw = await request.read()
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError as e:
            return self.error(400, f"Invalid JSON body: {e}")
        if not isinstance(body, dict):
            return self.error(400, "The request body must be a JSON object")
        name = body.get("model")
        if not isinstance(name, str) or not name:
            return self.error(400, "model is required")
        spec = self.engine.specs.get(name)
        if spec is None:
            return self.error(404, not_found_message(flavor, name))
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return self.error(400, "messages must be a non-empty array of objects")
        for m in messages:
            if not isinstance(m.get("content", ""), (str, type(None))):
                return self.error(400, "message content must be a string")
        stream = bool(body.get("stream") or False)
        limit = number(body.get("max_tokens"), int)
        if limit is None and flavor != "ollama":  # Ollama ignores max_completion_tokens
            limit = number(body.get("max_completion_tokens"), int)
        opts = body.get("stream_options") or {}
        include_usage = bool(opts.get("include_usage")) if isinstance(opts, dict) else False
        continuous = include_usage and flavor == "vllm" and bool(opts.get("continuous_usage_stats"))
        users = [m.get("content") or "" for m in messages if m.get("role") == "user"]
        user_text = users[-1] if users else (messages[-1].get("content") or "")
        prompt_text = "\n".join(f"{m.get('role', 'user')}: {m.get('content') or ''}" for m in messages)
        plan = fm.plan_answer(spec, user_text, limit, number(body.get("seed"), int),
                              number(body.get("temperature"), float))
        if self.engine.pending >= self.engine.max_queue:
            return self.error(503, "server busy", "server_error")
        if stream:
            return await self._stream(request, t0, plan, prompt_text, name, include_usage, continuous)
        job = await self.engine.start(name, None, t0)
        try:
            return await self._whole(job, plan, prompt_text, name)
        finally:
            job.finish()

    # ------------------------------------------------------------ pieces

    def usage(self, job):
        completion = job.eval_count
        if self.flavor == "vllm":
            return {"prompt_tokens": job.prompt_count, "total_tokens": job.prompt_count + completion,
                    "completion_tokens": completion}
        if self.flavor == "llamacpp":
            return {"completion_tokens": completion, "prompt_tokens": job.prompt_count,
                    "total_tokens": job.prompt_count + completion}
        return {"prompt_tokens": job.prompt_count, "completion_tokens": completion,
                "total_tokens": job.prompt_count + completion}

    def timings(self, job):
        pn, pms = job.prompt_evaluated, job.prompt_ns / 1e6
        dn, dms = job.eval_count, job.eval_ns / 1e6
        return {
            "cache_n": job.prompt_cached,
            "prompt_n": pn,
            "prompt_ms": pms,
            "prompt_per_token_ms": pms / pn if pn else 0.0,
            "prompt_per_second": 1e3 / pms * pn if pms else 0.0,
            "predicted_n": dn,
            "predicted_ms": dms,
            "predicted_per_token_ms": dms / dn if dn else 0.0,
            "predicted_per_second": 1e3 / dms * dn if dms else 0.0,
        }

    def chunk(self, cid, created, name, delta, finish=None, final=False, extra=None):
        f = self.flavor
        if f == "llamacpp":
            out = {"choices": [{"finish_reason": finish, "index": 0, "delta": delta}], "created": created,
                   "id": cid, "model": name, "system_fingerprint": FINGERPRINT[f],
                   "object": "chat.completion.chunk"}
        else:
            out = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": name}
            if f == "ollama":
                out["system_fingerprint"] = FINGERPRINT[f]
                choice = {"index": 0, "delta": delta, "finish_reason": finish}
            else:
                choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                if f == "vllm" and final:
                    choice["stop_reason"] = None
            out["choices"] = [choice]
        if extra:
            out.update(extra)
        return out

    async def _stream(self, request, t0, plan, prompt_text, name, include_usage, continuous):
        """vLLM, llama-server and sse-starlette send the headers at once and
        then queue; Ollama sends them with the first token."""
        resp = None
        job = None
        pinger = None
        try:
            if self.flavor != "ollama":
                resp = await self._start_stream(request)
            if self.flavor == "plain":
                pinger = asyncio.create_task(self._ping(resp))
            try:
                job = await self.engine.start(name, None, t0)
            except fm.ServerBusy:
                if resp is None:
                    return self.error(503, "server busy", "server_error")
                await resp.write(f"data: {dumps(self.flavor, error_body(self.flavor, 503, 'server busy'))}\n\n".encode())
                await resp.write_eof()
                return resp
            return await self._stream_body(request, resp, job, plan, prompt_text, name, include_usage, continuous,
                                           pinger)
        finally:
            if pinger is not None:
                pinger.cancel()
            if job is not None:
                job.finish()

    async def _ping(self, resp):
        """sse-starlette's pinger: a comment event every interval, whatever else is sent."""
        try:
            while True:
                await asyncio.sleep(self.ping_interval)
                await resp.write(self.ping_event())
        except (ConnectionError, RuntimeError):
            pass

    async def _start_stream(self, request):
        f = self.flavor
        headers = {"Content-Type": "text/event-stream; charset=utf-8" if f in ("vllm", "plain")
                   else "text/event-stream"}
        if f == "plain":
            headers.update({"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        elif f == "llamacpp":
            headers.update({"Server": "llama.cpp"})
        resp = web.StreamResponse(status=200, headers=headers)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        if f == "plain":
            await resp.write(self.ping_event())
        return resp

    def ping_event(self):
        stamp = datetime.datetime.now(datetime.timezone.utc)
        return f": ping - {stamp}\r\n\r\n".encode()

    async def _stream_body(self, request, resp, job, plan, prompt_text, name, include_usage, continuous, pinger):
        f = self.flavor
        cid, created = completion_id(f), int(time.time())
        sep = "\r\n" if f == "plain" else "\n"
        holder = [resp]

        async def send(text):
            if holder[0] is None:  # ollama: headers with the first chunk
                holder[0] = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream"})
                holder[0].enable_chunked_encoding()
                await holder[0].prepare(request)
            await holder[0].write(text.encode())

        async def eof():
            if pinger is not None:
                pinger.cancel()
            await holder[0].write_eof()
            return holder[0]

        async def data(obj):
            await send(f"data: {obj if isinstance(obj, str) else dumps(f, obj)}{sep}{sep}")

        def cont_usage():
            if not continuous:
                return None
            return {"usage": self.usage(job)}

        try:
            await job.prefill(prompt_text)
            limit = len(plan.tokens)
            if plan.fail_after is not None:
                limit = plan.fail_after
            elif plan.cut_after is not None:
                limit = plan.cut_after
            i = 0
            async for _ in job.decode(limit):
                tok = plan.tokens[i]
                if i == 0:
                    if f == "vllm":
                        await data(self.chunk(cid, created, name, {"role": "assistant", "content": ""},
                                              extra=({"usage": self.usage(job) | {"completion_tokens": 0,
                                                      "total_tokens": job.prompt_count}} if continuous else None)))
                    elif f == "llamacpp":
                        await data(self.chunk(cid, created, name, {"role": "assistant", "content": None}))
                    elif f == "plain":
                        await data(self.chunk(cid, created, name, {"role": "assistant"}))
                delta = {"content": tok}
                if f == "ollama" and i == 0:
                    delta = {"role": "assistant", "content": tok}
                last = i == len(plan.tokens) - 1
                if f == "vllm" and last and not plan.eos and plan.fail_after is None and plan.cut_after is None:
                    # vLLM: the last token's own chunk carries finish_reason "length"
                    await data(self.chunk(cid, created, name, delta, plan.reason, True, cont_usage()))
                else:
                    await data(self.chunk(cid, created, name, delta, extra=cont_usage()))
                i += 1
            if plan.fail_after is not None:
                msg = RUN_ERROR
                if f == "llamacpp":
                    err = error_body(f, 500, msg)["error"]
                    await send(f"error: {dumps(f, err)}{sep}{sep}")
                else:
                    await data(error_body(f, 500, msg))
                    if f == "vllm":
                        await data("[DONE]")
                return await eof()
            if plan.cut_after is not None:
                return await eof()
            if plan.eos:
                async for _ in job.decode(1):  # the end-of-sequence token: counted, not shown
                    pass
            if f == "vllm":
                if plan.eos:
                    await data(self.chunk(cid, created, name, {"content": ""}, plan.reason, True, cont_usage()))
                if include_usage:
                    await data({"id": cid, "object": "chat.completion.chunk", "created": created, "model": name,
                                "choices": [], "usage": self.usage(job)})
            elif f == "llamacpp":
                await data(self.chunk(cid, created, name, {}, plan.reason,
                                      extra={"usage": self.usage(job), "timings": self.timings(job)}))
            elif f == "plain":
                await data(self.chunk(cid, created, name, {}, plan.reason))
            else:  # ollama
                await data(self.chunk(cid, created, name, {"content": ""}, plan.reason))
                if include_usage:
                    await data({"id": cid, "object": "chat.completion.chunk", "created": created, "model": name,
                                "system_fingerprint": FINGERPRINT[f], "choices": [], "usage": self.usage(job)})
            await data("[DONE]")
            await eof()
        except (ConnectionResetError, ConnectionError):
            pass  # the client went away; the slot is freed by the caller
        return holder[0]

    async def _whole(self, job, plan, prompt_text, name):
        f = self.flavor
        await job.prefill(prompt_text)
        limit = len(plan.tokens)
        if plan.fail_after is not None or plan.cut_after is not None:
            limit = plan.fail_after if plan.fail_after is not None else plan.cut_after
        async for _ in job.decode(limit):
            pass
        if plan.fail_after is not None or plan.cut_after is not None:
            return self.error(500, RUN_ERROR)
        if plan.eos:
            async for _ in job.decode(1):
                pass
        cid, created, text = completion_id(f), int(time.time()), "".join(plan.tokens)
        if f == "llamacpp":
            return self.json({
                "choices": [{"finish_reason": plan.reason, "index": 0,
                             "message": {"role": "assistant", "content": text}}],
                "created": created, "model": name, "system_fingerprint": FINGERPRINT[f],
                "object": "chat.completion", "usage": self.usage(job), "id": cid, "timings": self.timings(job),
            })
        out = {"id": cid, "object": "chat.completion", "created": created, "model": name}
        if f == "ollama":
            out["system_fingerprint"] = FINGERPRINT[f]
            out["choices"] = [{"index": 0, "message": {"role": "assistant", "content": text},
                               "finish_reason": plan.reason}]
        elif f == "vllm":
            out["choices"] = [{"index": 0, "message": {"role": "assistant", "content": text, "tool_calls": [],
                                                       "reasoning_content": None},
                               "logprobs": None, "finish_reason": plan.reason, "stop_reason": None}]
        else:
            out["choices"] = [{"index": 0, "message": {"role": "assistant", "content": text},
                               "logprobs": None, "finish_reason": plan.reason}]
        out["usage"] = self.usage(job)
        return self.json(out)


def add_routes(app, engine, flavor, ping_interval=0.05):
    o = OpenAI(engine, flavor, ping_interval)
    app.router.add_get("/v1/models", o.models)
    app.router.add_post("/v1/chat/completions", o.chat_completions)
    return o


def main():
    p = fm.base_parser("A fake OpenAI-compatible LLM server (vLLM, llama.cpp or sse-starlette flavour).")
    p.add_argument("--flavor", choices=("vllm", "llamacpp", "plain"), default="vllm",
                   help="which server's stream to imitate (default vllm)")
    p.add_argument("--parallel", type=int, default=None,
                   help="requests a model runs at once (default: vllm 16, llamacpp 4, plain 1)")
    p.add_argument("--load", choices=("eager", "lazy"), default="eager",
                   help="load every model before listening (eager) or on its first request (lazy)")
    p.add_argument("--ping-interval", type=float, default=0.05,
                   help="plain flavour: seconds between ': ping' comments (one also opens each stream)")
    p.add_argument("--api-key", default=None,
                   help="as vLLM's --api-key: /v1 requests without 'Authorization: Bearer KEY' get 401")
    args = p.parse_args()
    parallel = args.parallel or {"vllm": 16, "llamacpp": 4, "plain": 1}[args.flavor]
    engine = fm.Engine(fm.selected_models(args.models), speed_scale=args.speed_scale, mem_scale=args.mem_scale,
                       parallel=parallel, default_keep_alive=-1.0, max_loaded=len(fm.MODELS),
                       min_prefill_tokens=1, batch_penalty=args.batch_penalty)
    middlewares = []
    if args.api_key is not None:
        @web.middleware
        async def authenticate(request, handler):
            # vLLM's check: every /v1 path, the exact bearer token, else
            # 401 with {"error": "Unauthorized"}.
            if request.path.startswith("/v1") and \
                    request.headers.get("Authorization") != "Bearer " + args.api_key:
                return web.json_response({"error": "Unauthorized"}, status=401)
            return await handler(request)
        middlewares.append(authenticate)
    app = web.Application(client_max_size=64 * 2**20, middlewares=middlewares)
    add_routes(app, engine, args.flavor, args.ping_interval)

    async def preload():
        if args.load == "eager":
            for spec in engine.specs.values():
                await engine.ensure_loaded(spec)

    fm.serve(app, args.port, preload)


if __name__ == "__main__":
    main()
