"""Self-check for the fake LLM servers (stdlib only, ~15 s, 127.0.0.1 only):
starts fake_ollama.py and fake_openai.py (each flavour), checks the wire
format and the timing/memory behaviour the Rust tests rely on, and stops
them with SIGTERM (exit status 0).

  python3 tests/data/llm/check_fakes.py
"""

import http.client
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCALE = "8"


class Server:
    def __init__(self, script, *args):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, script), "--port", "0",
                                      "--speed-scale", SCALE, *args], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), line
        self.port = int(line.rsplit(":", 1)[1])

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(next(x for x in f if x.startswith("VmRSS")).split()[1])

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(timeout=10) == 0, "exit status"

    def request(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request(method, path, None if body is None else json.dumps(body))
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()

    def stream(self, path, body):
        """(content type, [(seconds since send, raw line)])"""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        t0 = time.monotonic()
        c.request("POST", path, json.dumps(body))
        r = c.getresponse()
        lines, buf = [], b""
        while True:
            d = r.read1(65536)
            if not d:
                break
            buf += d
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                lines.append((time.monotonic() - t0, line))
        return r.getheader("Content-Type"), lines


def check_ollama():
    s = Server("fake_ollama.py")
    try:
        assert s.request("GET", "/")[2] == b"Ollama is running"
        assert json.loads(s.request("GET", "/api/version")[2]) == {"version": "0.33.0"}
        tags = json.loads(s.request("GET", "/api/tags")[2])["models"]
        assert [m["details"]["parameter_size"] for m in tags] == ["1.2B", "3.2B", "8.0B"]
        show = json.loads(s.request("POST", "/api/show", {"model": "big:8b"})[2])
        assert show["model_info"]["general.parameter_count"] == 8_030_261_248 and show["capabilities"] == ["completion"]
        st, _, b = s.request("POST", "/api/show", {"model": "nope:1b"})
        assert st == 404 and json.loads(b) == {"error": "model 'nope:1b' not found"}
        st, _, b = s.request("POST", "/api/generate")
        assert st == 400 and json.loads(b) == {"error": "missing request body"}

        rates = {}
        for model in ("tiny:1b", "mid:3b", "big:8b"):
            body = {"model": model, "prompt": "[run 1] tell me about caches", "options": {"num_predict": 24}}
            ctype, lines = s.stream("/api/generate", body)
            assert ctype == "application/x-ndjson", ctype
            objs = [json.loads(x) for _, x in lines]
            assert [o["done"] for o in objs] == [False] * 24 + [True]
            done = objs[-1]
            assert done["done_reason"] == "length" and done["eval_count"] == 24 and "context" in done
            for k in ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_duration"):
                assert isinstance(done[k], int) and done[k] > 0, k
            t_first, t_last = lines[0][0], lines[-2][0]
            assert t_first < 0.6 * lines[-1][0], "tokens must stream, not arrive at the end"
            client = 23 / (t_last - t_first)
            server = done["eval_count"] / done["eval_duration"] * 1e9
            assert abs(client - server) / server < 0.15, (model, client, server)
            rates[model] = server
            # the same prompt again: loaded (no load_duration) and fully cached (no prompt_eval_duration)
            _, lines = s.stream("/api/generate", body)
            done = json.loads(lines[-1][1])
            assert "load_duration" not in done and "prompt_eval_duration" not in done, done
            assert done["prompt_eval_count"] == 8  # 6 words * 1.3
        assert 2.2 < rates["tiny:1b"] / rates["mid:3b"] < 3.1 and 4.2 < rates["mid:3b"] / rates["big:8b"] < 5.8, rates

        ps = json.loads(s.request("GET", "/api/ps")[2])["models"]
        assert {m["name"] for m in ps} == {"tiny:1b", "mid:3b", "big:8b"} and all(m["size_vram"] == 0 for m in ps)
        before = s.rss_kib()
        done = json.loads(s.request("POST", "/api/generate", {"model": "big:8b", "keep_alive": 0})[2])
        assert done["done_reason"] == "unload"
        assert before - s.rss_kib() > 100 * 1024, "unloading big:8b frees ~123 MiB"
        assert "big:8b" not in {m["name"] for m in json.loads(s.request("GET", "/api/ps")[2])["models"]}

        # natural stop: one hidden end-of-sequence step counted in eval_count
        _, lines = s.stream("/api/chat", {"model": "mid:3b", "messages": [
            {"role": "user", "content": "You have 3 apples, buy 2 and eat 1. How many apples do you have?"}]})
        objs = [json.loads(x) for _, x in lines]
        text = "".join(o["message"]["content"] for o in objs)
        assert "4 apples" in text and objs[-1]["done_reason"] == "stop"
        assert objs[-1]["eval_count"] == len(objs) - 1 + 1

        # queueing: --parallel 1, three at once; the wait shows in load_duration
        out = {}

        def go(i):
            _, ls = s.stream("/api/generate", {"model": "tiny:1b", "prompt": f"[q{i}] hello",
                                               "options": {"num_predict": 16}})
            out[i] = json.loads(ls[-1][1]).get("load_duration", 0)
        ts = [threading.Thread(target=go, args=(i,)) for i in range(3)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        waits = sorted(out.values())
        assert waits[0] == 0 and waits[2] > waits[1] > 0, waits

        _, lines = s.stream("/api/generate", {"model": "tiny:1b", "prompt": "x [fail-midstream]"})
        assert json.loads(lines[-1][1]) == {"error": "an error was encountered while running the model"}
        _, lines = s.stream("/api/generate", {"model": "tiny:1b", "prompt": "x [no-done]"})
        assert not any(json.loads(x)["done"] for _, x in lines)
    finally:
        s.stop()


def sse_events(raw_lines):
    text = b"\n".join(x for _, x in raw_lines).decode().replace("\r", "")
    return [e.strip("\n") for e in text.split("\n\n") if e.strip()]


def check_openai(flavor):
    s = Server("fake_openai.py", "--flavor", flavor)
    try:
        models = json.loads(s.request("GET", "/v1/models")[2])
        assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["tiny:1b", "mid:3b", "big:8b"]
        body = {"model": "mid:3b", "stream": True, "max_tokens": 12, "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": "tell me about caches"}]}
        ctype, lines = s.stream("/v1/chat/completions", body)
        assert ctype.startswith("text/event-stream"), ctype
        raw = b"\n".join(x for _, x in lines)
        assert (b"\r" in raw) == (flavor == "plain")
        events = sse_events(lines)
        pings = [e for e in events if e.startswith(":")]
        assert bool(pings) == (flavor == "plain")
        data = [e[6:] for e in events if e.startswith("data: ")]
        assert data[-1] == "[DONE]"
        chunks = [json.loads(d) for d in data[:-1]]
        content = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
        assert len(content) == 12
        first = chunks[0]["choices"][0]["delta"]
        assert "role" in first and not first.get("content")
        finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
        assert finish == ["length"]
        usage = [c["usage"] for c in chunks if c.get("usage")]
        if flavor == "plain":
            assert not usage
        else:
            assert usage[-1]["completion_tokens"] == 12
        if flavor == "llamacpp":
            assert chunks[-1]["timings"]["predicted_n"] == 12
        if flavor == "vllm":
            assert chunks[-1]["choices"] == []
        st, _, b = s.request("POST", "/v1/chat/completions", {"model": "nope", "messages": [{"role": "user", "content": "x"}]})
        assert st == 404 and "message" in json.loads(b)["error"]
        st, _, b = s.request("POST", "/v1/chat/completions", dict(body, stream=False))
        done = json.loads(b)
        assert done["object"] == "chat.completion" and done["choices"][0]["finish_reason"] == "length"
    finally:
        s.stop()


if __name__ == "__main__":
    t0 = time.monotonic()
    check_ollama()
    for flavor in ("vllm", "llamacpp", "plain"):
        check_openai(flavor)
    print(f"fake LLM servers OK ({time.monotonic() - t0:.1f} s)")
