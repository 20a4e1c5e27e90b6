"""A fake Ollama server: Ollama's HTTP API, field for field, over three fake
models of different sizes, speeds and memory (see fake_models.py), so that
a client written against it works unchanged against a real Ollama.

  GET|HEAD /          "Ollama is running"
  GET  /api/version   {"version": "0.33.0"}
  GET  /api/tags      the models on "disk"
  POST /api/show      {"model": "..."}: details, model_info, capabilities, ...
  GET  /api/ps        the loaded models: size, size_vram, expires_at, context_length
  POST /api/generate  {"model", "prompt", "stream", "keep_alive", "options": {"num_predict",
                      "temperature", "seed"}, "system"}: NDJSON, one line per token, then
                      the done line with nanosecond metrics (zero ones omitted)
  POST /api/chat      {"model", "messages": [{"role", "content"}], ...}: the same, with
                      "message": {"role": "assistant", "content": ...}
  GET  /v1/models, POST /v1/chat/completions   Ollama's OpenAI-compatible routes

Empty prompt (or no messages): load the model (done_reason "load"); with
"keep_alive": 0, unload it (done_reason "unload"). A model's memory is a real
anonymous mapping, touched page by page, so the process's RSS rises while it
loads and falls when it unloads. Requests to a busy model queue (--parallel
slots, like OLLAMA_NUM_PARALLEL) and the wait lands in load_duration.

Failure markers in the prompt (or last user message), for tests:
  [fail-midstream]  a few tokens, then {"error":"an error was encountered while running
                    the model"} inside the 200 stream, and the stream ends
  [no-done]         a few tokens, then the stream ends cleanly without a done line
  [short]           a natural stop after a few tokens, whatever num_predict says
(Without streaming, the first two answer 500 {"error": ...}.)

  python3 fake_ollama.py --port 11434 [--speed-scale 1] [--mem-scale 25] [--parallel 1]
      [--keep-alive 5m] [--gpu-vram-gb X] [--max-loaded 3] [--max-queue 512]
      [--models tiny:1b,mid:3b,big:8b] [--version 0.33.0]

It prints "listening on http://127.0.0.1:PORT" once it accepts connections
and exits cleanly on SIGTERM.
"""

import json
import os
import sys
import time

from aiohttp import web

sys.dont_write_bytecode = True  # no __pycache__ beside the servers
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_models as fm  # noqa: E402
import fake_openai  # noqa: E402

RUN_ERROR = "an error was encountered while running the model"
BUSY = "server busy, please try again.  maximum pending requests exceeded"


def err(status, message):
    return fm.go_json_response({"error": message}, status)


def details(spec):
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": spec.parameter_size,
        "quantization_level": spec.quantization_level,
    }


def go_decode_error(raw, exc, type_name):
    """The message Go's json decoder gives for a body Python cannot parse."""
    text = raw.decode("utf-8", "replace")
    if isinstance(exc, json.JSONDecodeError):
        if exc.pos >= len(text.rstrip()):
            return "unexpected EOF"
        ch = text[exc.pos]
        if exc.msg.startswith("Expecting value"):
            return f"invalid character '{ch}' looking for beginning of value"
        if exc.msg.startswith("Extra data"):
            return f"invalid character '{ch}' after top-level value"
        if exc.msg.startswith("Expecting property name"):
            return f"invalid character '{ch}' looking for beginning of object key string"
        return f"invalid character '{ch}' after object key:value pair"
    return f"json: cannot unmarshal {exc} into Go value of type {type_name}"


GO_TYPES = {str: "string", bool: "bool", list: "[]api.Message", dict: "map[string]interface {}"}


def go_kind(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if v is None:
        return "null"
    return {str: "string", list: "array", dict: "object"}[type(v)]


async def read_body(request, type_name, fields):
    """(body, None) or (None, error response), as Ollama's ShouldBindJSON."""
    raw = await request.read()
    if not raw.strip():
        return None, err(400, "missing request body")
    try:
        body = json.loads(raw)
    except ValueError as e:
        return None, err(400, go_decode_error(raw, e, type_name))
    if not isinstance(body, dict):
        return None, err(400, go_decode_error(raw, go_kind(body), "api." + type_name))
    for name, want in fields.items():
        v = body.get(name)
        if v is None:
            continue
        if not isinstance(v, want) or (want is not bool and isinstance(v, bool)):
            return None, err(400, f"json: cannot unmarshal {go_kind(v)} into Go struct field "
                                  f"{type_name}.{name} of type {GO_TYPES[want]}")
    return body, None


def metrics(job):
    """api.Metrics, each field omitted when zero (omitempty)."""
    out = {}
    for key, val in (
        ("total_duration", job.total_ns()),
        ("load_duration", job.load_ns),
        ("prompt_eval_count", job.prompt_count),
        ("prompt_eval_duration", job.prompt_ns),
        ("eval_count", job.eval_count),
        ("eval_duration", job.eval_ns),
    ):
        if val:
            out[key] = int(val)
    return out


def number(v, kind):
    if v is None or isinstance(v, bool):
        return None
    try:
        return kind(v)
    except (TypeError, ValueError):
        return None


class Ollama:
    def __init__(self, engine, version):
        self.engine = engine
        self.version = version

    async def root(self, request):
        return web.Response(text="Ollama is running", content_type="text/plain", charset="utf-8")

    async def api_version(self, request):
        return fm.go_json_response({"version": self.version})

    async def tags(self, request):
        specs = sorted(self.engine.specs.values(), key=lambda s: s.modified_at, reverse=True)
        return fm.go_json_response({"models": [
            {"name": s.name, "model": s.name, "modified_at": s.modified_at, "size": s.size,
             "digest": s.digest, "details": details(s)}
            for s in specs
        ]})

    async def show(self, request):
        body, bad = await read_body(request, "ShowRequest", {"model": str, "name": str, "verbose": bool})
        if bad:
            return bad
        name = body.get("model") or body.get("name") or ""
        if not name:
            return err(400, "model is required")
        spec = self.engine.specs.get(name)
        if spec is None:
            return err(404, f"model '{name}' not found")
        blob = "sha256-" + spec.digest
        template = (
            "<|start_header_id|>system<|end_header_id|>\n\n{{ if .System }}{{ .System }}{{ end }}<|eot_id|>"
            "{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>"
            "{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
        )
        parameters = 'stop                           "<|start_header_id|>"\n' \
                     'stop                           "<|end_header_id|>"\n' \
                     'stop                           "<|eot_id|>"'
        modelfile = (
            '# Modelfile generated by "ollama show"\n'
            "# To build a new Modelfile based on this, replace FROM with:\n"
            f"# FROM {spec.name}\n\n"
            f"FROM /root/.ollama/models/blobs/{blob}\n"
            f'TEMPLATE """{template}"""\n'
            'PARAMETER stop <|start_header_id|>\nPARAMETER stop <|end_header_id|>\nPARAMETER stop <|eot_id|>\n'
            'LICENSE """Fake model for tests. No rights reserved."""\n'
        )
        info = {
            "general.architecture": "llama",
            "general.basename": spec.basename,
            "general.file_type": spec.file_type,
            "general.finetune": "Instruct",
            "general.parameter_count": spec.parameter_count,
            "general.quantization_version": 2,
            "general.size_label": spec.size_label,
            "general.type": "model",
            "llama.attention.head_count": spec.head_count,
            "llama.attention.head_count_kv": spec.head_count_kv,
            "llama.block_count": spec.block_count,
            "llama.context_length": fm.TRAIN_CONTEXT,
            "llama.embedding_length": spec.embedding_length,
            "llama.feed_forward_length": spec.feed_forward_length,
            "llama.rope.dimension_count": spec.embedding_length // spec.head_count,
            "llama.rope.freq_base": 500000,
            "llama.vocab_size": 128256,
            "tokenizer.ggml.bos_token_id": 128000,
            "tokenizer.ggml.eos_token_id": 128009,
            "tokenizer.ggml.merges": None,
            "tokenizer.ggml.model": "gpt2",
            "tokenizer.ggml.pre": "llama-bpe",
            "tokenizer.ggml.token_type": None,
            "tokenizer.ggml.tokens": None,
        }
        return fm.go_json_response({
            "license": "Fake model for tests. No rights reserved.",
            "modelfile": modelfile,
            "parameters": parameters,
            "template": template,
            "details": details(spec),
            "model_info": dict(sorted(info.items())),  # a Go map: keys sorted
            "tensors": [],
            "capabilities": ["completion"],
            "modified_at": spec.modified_at,
        })

    async def ps(self, request):
        runners = sorted(self.engine.loaded.values(), key=lambda r: r.expires_ns, reverse=True)
        return fm.go_json_response({"models": [
            {"name": r.spec.name, "model": r.spec.name, "size": r.spec.loaded_size, "digest": r.spec.digest,
             "details": details(r.spec), "expires_at": fm.rfc3339nano(r.expires_ns),
             "size_vram": r.size_vram(), "context_length": fm.CONTEXT_LENGTH}
            for r in runners
        ]})

    async def generate(self, request):
        return await self._complete(request, chat=False)

    async def chat(self, request):
        return await self._complete(request, chat=True)

    async def _complete(self, request, chat):
        t0 = time.monotonic_ns()
        type_name = "ChatRequest" if chat else "GenerateRequest"
        fields = {"model": str, "stream": bool, "options": dict}
        fields.update({"messages": list} if chat else {"prompt": str, "system": str, "raw": bool, "context": list})
        body, bad = await read_body(request, type_name, fields)
        if bad:
            return bad
        name = body.get("model") or ""
        spec = self.engine.specs.get(name)
        if spec is None:
            return err(404, f"model '{name}' not found")
        if body.get("think") not in (None, False):
            return err(400, f'"{name}" does not support thinking')
        try:
            keep_alive = fm.keep_alive_seconds(body.get("keep_alive"), None)
        except ValueError as e:
            return err(400, str(e))
        stream = body.get("stream")
        stream = True if stream is None else stream

        if chat:
            messages = body.get("messages") or []
            for m in messages:
                if not isinstance(m, dict) or not isinstance(m.get("content", ""), str):
                    return err(400, "json: cannot unmarshal into Go struct field ChatRequest.messages of type api.Message")
            empty = len(messages) == 0
            prompt_text = "\n".join(f"{str(m.get('role', 'user')).lower()}: {m.get('content', '')}" for m in messages)
            users = [m.get("content", "") for m in messages if str(m.get("role", "")).lower() == "user"]
            user_text = users[-1] if users else (messages[-1].get("content", "") if messages else "")
        else:
            prompt = body.get("prompt") or ""
            empty = prompt == ""
            system = body.get("system") or ""
            prompt_text = (system + "\n" + prompt) if system else prompt
            user_text = prompt

        def shell(reason):
            out = {"model": name, "created_at": fm.rfc3339nano()}
            if chat:
                out["message"] = {"role": "assistant", "content": ""}
                out["done_reason"] = reason
                out["done"] = True
            else:
                out["response"] = ""
                out["done"] = True
                out["done_reason"] = reason
            return out

        if empty and keep_alive == 0:
            self.engine.request_unload(name)
            return fm.go_json_response(shell("unload"))
        if empty:
            await self.engine.load_only(name, keep_alive)
            return fm.go_json_response(shell("load"))

        options = body.get("options") or {}
        plan = fm.plan_answer(spec, user_text, number(options.get("num_predict"), int),
                              number(options.get("seed"), int), number(options.get("temperature"), float))
        try:
            job = await self.engine.start(name, keep_alive, t0)
        except fm.ServerBusy:
            return err(503, BUSY)
        try:
            return await self._run(request, job, plan, prompt_text, stream, chat, name)
        finally:
            job.finish()

    async def _run(self, request, job, plan, prompt_text, stream, chat, name):
        await job.prefill(prompt_text)
        limit = len(plan.tokens)
        if plan.fail_after is not None:
            limit = plan.fail_after
        elif plan.cut_after is not None:
            limit = plan.cut_after

        def chunk(text):
            if chat:
                return {"model": name, "created_at": fm.rfc3339nano(),
                        "message": {"role": "assistant", "content": text}, "done": False}
            return {"model": name, "created_at": fm.rfc3339nano(), "response": text, "done": False}

        def final(text):
            out = {"model": name, "created_at": fm.rfc3339nano()}
            if chat:
                out["message"] = {"role": "assistant", "content": text}
                out["done_reason"] = plan.reason
                out["done"] = True
            else:
                out["response"] = text
                out["done"] = True
                out["done_reason"] = plan.reason
                tokens = fm.tokenize(prompt_text) + plan.tokens
                out["context"] = fm.fake_token_ids(tokens)
            out.update(metrics(job))
            return out

        if not stream:
            i = 0
            async for _ in job.decode(limit):
                i += 1
            if plan.fail_after is not None or plan.cut_after is not None:
                return err(500, RUN_ERROR)
            if plan.eos:
                async for _ in job.decode(1):
                    pass
            body = final("".join(plan.tokens))
            if job.runner.keep_alive == 0:
                job.finish()  # unloaded before the answer goes out
            return fm.go_json_response(body)

        # Like Go's http server, the status line and headers go out with the
        # first line of the body, i.e. with the first token.
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/x-ndjson"})
        resp.enable_chunked_encoding()

        async def write(obj):
            if not resp.prepared:
                await resp.prepare(request)
            await resp.write((fm.go_json(obj) + "\n").encode())

        try:
            i = 0
            async for _ in job.decode(limit):
                await write(chunk(plan.tokens[i]))
                i += 1
            if plan.fail_after is not None:
                await write({"error": RUN_ERROR})
                await resp.write_eof()
                return resp
            if plan.cut_after is not None:
                if not resp.prepared:
                    await resp.prepare(request)
                await resp.write_eof()
                return resp
            if plan.eos:
                async for _ in job.decode(1):
                    pass
            line = final("")
            if job.runner.keep_alive == 0:
                job.finish()  # unloaded before the done line goes out
            await write(line)
            await resp.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass  # the client went away; the slot is freed by the caller
        return resp


@web.middleware
async def gin_not_found(request, handler):
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return web.Response(status=404, text="404 page not found", content_type="text/plain")
    except web.HTTPMethodNotAllowed:
        return web.Response(status=405, text="405 method not allowed", content_type="text/plain")


def main():
    p = fm.base_parser("A fake Ollama server (Ollama's API over three fake models).")
    p.add_argument("--parallel", type=int, default=int(os.environ.get("OLLAMA_NUM_PARALLEL") or 1),
                   help="requests a model runs at once; more queue (OLLAMA_NUM_PARALLEL, default 1)")
    p.add_argument("--keep-alive", default=os.environ.get("OLLAMA_KEEP_ALIVE") or "5m",
                   help="how long a model stays loaded after its last request (Go duration or seconds; "
                        "negative: forever; OLLAMA_KEEP_ALIVE, default 5m)")
    p.add_argument("--gpu-vram-gb", type=float, default=None,
                   help="pretend a GPU with this many GiB: a model that fits reports size_vram == size, "
                        "one that does not a partial size_vram (default: CPU only, size_vram 0)")
    p.add_argument("--max-loaded", type=int, default=int(os.environ.get("OLLAMA_MAX_LOADED_MODELS") or 3),
                   help="models loaded at once; loading one more unloads the least recently used idle one")
    p.add_argument("--max-queue", type=int, default=int(os.environ.get("OLLAMA_MAX_QUEUE") or 512),
                   help="requests waiting at once before 503 server busy")
    p.add_argument("--version", default="0.33.0", help="what /api/version says")
    args = p.parse_args()
    ka = args.keep_alive
    try:
        keep_alive = fm.keep_alive_seconds(float(ka) if ka.lstrip("-").replace(".", "", 1).isdigit() else ka, 300.0)
    except ValueError as e:
        p.error(f"--keep-alive: {e}")
    engine = fm.Engine(fm.selected_models(args.models), speed_scale=args.speed_scale, mem_scale=args.mem_scale,
                       parallel=args.parallel, default_keep_alive=keep_alive, gpu_vram_gb=args.gpu_vram_gb,
                       max_loaded=args.max_loaded, max_queue=args.max_queue, batch_penalty=args.batch_penalty)
    o = Ollama(engine, args.version)
    app = web.Application(middlewares=[gin_not_found], client_max_size=64 * 2**20)
    app.router.add_get("/", o.root)
    app.router.add_get("/api/version", o.api_version)
    app.router.add_get("/api/tags", o.tags)
    app.router.add_post("/api/show", o.show)
    app.router.add_get("/api/ps", o.ps)
    app.router.add_post("/api/generate", o.generate)
    app.router.add_post("/api/chat", o.chat)
    fake_openai.add_routes(app, engine, "ollama")
    fm.serve(app, args.port)


if __name__ == "__main__":
    main()
