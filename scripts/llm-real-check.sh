#!/usr/bin/env bash
# A real inference check of `loadprof llm`, too slow for every CI run.
#
# Builds llama-cpp-python from its PyPI source (once; cached under target/),
# writes three llama-architecture GGUF models with random weights locally
# (scripts/llm_tiny_gguf.py: ~26 M, ~200 M and ~820 M parameters, q8_0,
# no download), serves all three from llama-cpp-python's OpenAI-compatible
# server (--config_file, one model loaded at a time) on 127.0.0.1 and a free
# port, runs `loadprof llm --api openai` against it, prints the scorecard,
# and stops the server on exit.
#
# Usage:
#   scripts/llm-real-check.sh [all|setup|serve] [-- EXTRA LOADPROF ARGS]
#     all    (default) set up what is missing, serve, benchmark, stop
#     setup  only the venv (llama-cpp-python build) and the models
#     serve  set up, start the server and wait (Ctrl-C stops it); prints the port
#
# Environment (all optional):
#   LOADPROF=path          loadprof binary to use (default: `cargo build --release
#                          --locked` and target/release/loadprof; if the working tree
#                          does not compile, the last commit built in target/llm-loadprof/)
#   LLM_LOADPROF_BUILD=head  build the last commit (git archive HEAD) straight away
#   LLM_OUT=out/llm-real   loadprof's output folder
#   LLM_RUNS=5 LLM_MAX_TOKENS=64 LLM_CONCURRENCY=1,2 LLM_WARMUP=1
#   LLM_MODELS="25m 200m 800m"   presets to write and benchmark (named m-<preset>)
#   LLM_QUANT=q8_0         q8_0 | f16 | f32 for the generated models
#   LLM_THREADS=1          llama.cpp threads (decode and prompt); 1 is stable on a
#                          busy 2-core machine, 2 threads collapse when cores are shared
#   LLM_INTERRUPT=0        1 keeps llama-cpp-python's default interrupt_requests=true,
#                          under which a waiting request ends the running stream early
#   LLM_PORT=              fixed port (default: a free one)
#   LLM_BENCH_TIMEOUT=3600 seconds for the whole loadprof run
#   LLM_BUILD_TIMEOUT=3600 seconds for the llama-cpp-python build
#   LLAMA_CPP_PYTHON_VERSION=0.3.36
#
# Caches (all under the git-ignored target/):
#   target/llm-cache/wheels/  the built llama-cpp-python wheel (portable:
#                             GGML_NATIVE=OFF, AVX2 baseline)
#   target/llm-venv/          the venv
#   target/llm-models/        the GGUF files (rewritten when llm_tiny_gguf.py changes)
#   target/llm-run/           server config, server log, a raw captured stream
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

MODE=all
if [[ $# -gt 0 && $1 != -- ]]; then MODE=$1; shift; fi
[[ ${1-} == -- ]] && shift
EXTRA=("$@")
case $MODE in all | setup | serve) ;; -h | --help | help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*) echo "unknown mode '$MODE' (all, setup, serve)" >&2; exit 2 ;; esac

VER=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
VENV=target/llm-venv
CACHE=target/llm-cache
MODELS_DIR=target/llm-models
RUN=target/llm-run
OUT=${LLM_OUT:-out/llm-real}
RUNS=${LLM_RUNS:-5}
MAX_TOKENS=${LLM_MAX_TOKENS:-64}
CONCURRENCY=${LLM_CONCURRENCY:-1,2}
WARMUP=${LLM_WARMUP:-1}
PRESETS=${LLM_MODELS:-25m 200m 800m}
QUANT=${LLM_QUANT:-q8_0}
THREADS=${LLM_THREADS:-1}
INTERRUPT=${LLM_INTERRUPT:-0}
BENCH_TIMEOUT=${LLM_BENCH_TIMEOUT:-3600}
BUILD_TIMEOUT=${LLM_BUILD_TIMEOUT:-3600}
PY=$VENV/bin/python

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'llm-real-check: %s\n' "$*" >&2; exit 1; }

# --- 1. venv with llama-cpp-python[server] (source build), gguf, numpy ------
setup_venv() {
    if [[ -x $PY ]] && "$PY" -c 'import llama_cpp, llama_cpp.server, gguf, numpy, uvicorn' 2>/dev/null; then
        say "venv: $VENV (reused; llama-cpp-python $("$PY" -c 'import llama_cpp; print(llama_cpp.__version__)'))"
        return
    fi
    local t0=$SECONDS
    command -v gcc >/dev/null && command -v g++ >/dev/null || die "gcc and g++ are needed to build llama.cpp"
    [[ -x $PY ]] || python3 -m venv "$VENV" || die "python3 -m venv failed"
    "$VENV/bin/pip" install -q --upgrade pip
    mkdir -p "$CACHE/wheels"
    if ! ls "$CACHE/wheels"/llama_cpp_python-"$VER"-*.whl >/dev/null 2>&1; then
        say "building llama-cpp-python $VER from PyPI source (CPU, GGML_NATIVE=OFF, nice 19; 15-25 min on 2 cores); log: $CACHE/build.log"
        # GGML_NATIVE=OFF: an AVX2/FMA/F16C baseline, so the cached wheel does not
        # die with SIGILL on another CPU. No llava/mtmd, tools, tests or examples.
        CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF ${CMAKE_ARGS-}" \
            CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
            timeout "$BUILD_TIMEOUT" nice -n 19 "$VENV/bin/pip" wheel --no-deps -v \
            "llama-cpp-python==$VER" -w "$CACHE/wheels" >"$CACHE/build.log" 2>&1 ||
            die "the llama-cpp-python build failed or timed out; see $CACHE/build.log"
    fi
    say "installing llama-cpp-python[server]==$VER (cached wheel), gguf, numpy into $VENV"
    nice -n 19 "$VENV/bin/pip" install -q --find-links "$CACHE/wheels" --only-binary llama-cpp-python \
        "llama-cpp-python[server]==$VER" gguf numpy || die "pip install failed"
    "$PY" -c 'import llama_cpp, llama_cpp.server, gguf, numpy' || die "the venv does not import llama_cpp"
    say "venv ready in $((SECONDS - t0)) s"
}

# --- 2. three random-weight llama GGUF models --------------------------------
GEN=scripts/llm_tiny_gguf.py
setup_models() {
    mkdir -p "$MODELS_DIR"
    local stamp want p f
    want="$(sha256sum "$GEN" | cut -c1-16)-$QUANT"
    for p in $PRESETS; do
        f=$MODELS_DIR/m-$p.gguf
        stamp=$f.stamp
        if [[ -s $f && -f $stamp && $(cat "$stamp") == "$want" ]]; then
            say "model m-$p: $f (reused, $(du -h "$f" | cut -f1))"
            continue
        fi
        local need_mb
        case $p in 800m) need_mb=2000 ;; 200m) need_mb=600 ;; *) need_mb=200 ;; esac
        local free_mb
        free_mb=$(df -Pm "$MODELS_DIR" | awk 'NR==2 {print $4}')
        ((free_mb > need_mb)) || die "only $free_mb MiB free under $MODELS_DIR; m-$p needs ~$need_mb MiB"
        rm -f "$stamp"
        nice -n 10 "$PY" "$GEN" "$f" --preset "$p" --type "$QUANT" --name "m-$p" >&2 || die "writing $f failed"
        echo "$want" >"$stamp"
    done
}

# --- 3. the server ------------------------------------------------------------
SERVER_PID=
stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
        wait "$SERVER_PID" 2>/dev/null || true
        say "server stopped (pid $SERVER_PID)"
    fi
    SERVER_PID=
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_server() {
    mkdir -p "$RUN"
    PORT=${LLM_PORT:-$(free_port)}
    ENDPOINT=http://127.0.0.1:$PORT
    local interrupt=false
    [[ $INTERRUPT == 1 ]] && interrupt=true
    PORT=$PORT MODELS_DIR=$(cd "$MODELS_DIR" && pwd) PRESETS=$PRESETS THREADS=$THREADS INTERRUPT=$interrupt \
        "$PY" - >"$RUN/config.json" <<'PYEOF'
import json, os
models = [
    {
        "model": os.path.join(os.environ["MODELS_DIR"], f"m-{p}.gguf"),
        "model_alias": f"m-{p}",
        "n_ctx": 2048,
        "n_threads": int(os.environ["THREADS"]),
        "n_threads_batch": int(os.environ["THREADS"]),
        "verbose": True,
    }
    for p in os.environ["PRESETS"].split()
]
print(json.dumps({
    "host": "127.0.0.1",
    "port": int(os.environ["PORT"]),
    "interrupt_requests": os.environ["INTERRUPT"] == "true",
    "models": models,
}, indent=2))
PYEOF
    say "starting llama_cpp.server on $ENDPOINT (config $RUN/config.json, log $RUN/server.log, threads $THREADS, interrupt_requests $interrupt)"
    "$PY" -m llama_cpp.server --config_file "$RUN/config.json" >"$RUN/server.log" 2>&1 &
    SERVER_PID=$!
    local t0=$SECONDS
    until curl -sf --max-time 2 "$ENDPOINT/v1/models" >"$RUN/models.json" 2>/dev/null; do
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$RUN/server.log" >&2; die "the server exited while starting"; }
        ((SECONDS - t0 < ${LLM_START_TIMEOUT:-180})) || { tail -20 "$RUN/server.log" >&2; die "no /v1/models after ${LLM_START_TIMEOUT:-180} s"; }
        sleep 0.5
    done
    say "server up in $((SECONDS - t0)) s (pid $SERVER_PID): $("$PY" -c 'import json,sys; print(", ".join(m["id"] for m in json.load(open(sys.argv[1]))["data"]))' "$RUN/models.json")"
}

# --- 4. loadprof ----------------------------------------------------------------
# The working tree first; if it does not compile (others may be mid-edit),
# the last commit, built from `git archive HEAD` in target/llm-loadprof/
# (its target dir seeded once from target/release, so only loadprof itself
# compiles).
build_head() {
    local dir=target/llm-loadprof rev
    rev=$(git rev-parse HEAD) || die "not a git checkout; set LOADPROF"
    mkdir -p "$dir/target"
    if [[ ! -f $dir/src.rev || $(cat "$dir/src.rev") != "$rev" ]]; then
        rm -rf "$dir/src" && mkdir -p "$dir/src"
        git archive "$rev" | tar -x -C "$dir/src" || die "git archive HEAD failed"
        echo "$rev" >"$dir/src.rev"
    fi
    if [[ ! -d $dir/target/release && -d target/release/deps ]]; then
        cp -a target/release "$dir/target/release"
    fi
    say "building loadprof at HEAD ${rev:0:12} in $dir (nice 19; log $RUN/cargo-build-head.log)"
    (cd "$dir/src" && timeout "${LLM_CARGO_TIMEOUT:-2400}" nice -n 19 cargo build --release --locked --target-dir ../target) \
        >"$RUN/cargo-build-head.log" 2>&1 || { tail -20 "$RUN/cargo-build-head.log" >&2; die "building HEAD failed too"; }
    LOADPROF=$dir/target/release/loadprof
    LOADPROF_WHAT="release build of HEAD ${rev:0:12} (the working tree did not compile)"
}

loadprof_bin() {
    mkdir -p "$RUN"
    if [[ -n ${LOADPROF-} ]]; then
        [[ -x $LOADPROF ]] || die "LOADPROF=$LOADPROF is not executable"
        LOADPROF_WHAT="given by LOADPROF"
    elif [[ ${LLM_LOADPROF_BUILD:-tree} == head ]]; then
        build_head
    else
        say "cargo build --release --locked (nice 19; log $RUN/cargo-build.log)"
        local t0=$SECONDS
        if timeout "${LLM_CARGO_TIMEOUT:-2400}" nice -n 19 cargo build --release --locked >"$RUN/cargo-build.log" 2>&1; then
            LOADPROF=target/release/loadprof
            LOADPROF_WHAT="release build of the working tree ($((SECONDS - t0)) s)"
        else
            grep -m5 -E '^error' "$RUN/cargo-build.log" >&2 || tail -5 "$RUN/cargo-build.log" >&2
            say "WARNING: the working tree does not build; falling back to the last commit"
            build_head
        fi
    fi
    "$LOADPROF" llm --help >/dev/null 2>&1 || die "$LOADPROF has no 'llm' command"
    say "loadprof: $LOADPROF — $LOADPROF_WHAT"
}

# One raw stream, as the server sends it, for looking at by hand.
capture_raw() {
    local model=$1
    local f=$RUN/raw-$model.sse
    curl -sN --max-time 120 "$ENDPOINT/v1/chat/completions" -H 'Content-Type: application/json' \
        -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"[raw] Say hello in one short sentence.\"}],\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_tokens\":16,\"temperature\":0,\"seed\":0}" \
        >"$f" || true
    say "raw stream of $model: $f ($(grep -c '^data: ' "$f" || true) data lines, usage chunk: $(grep -q '"usage": *{' "$f" && echo yes || echo no), last: $(grep '^data: ' "$f" | tail -1 | cut -c1-40))"
}

setup_venv
setup_models
[[ $MODE == setup ]] && { say "setup done"; exit 0; }

if [[ $MODE == serve ]]; then
    start_server
    say "serving on $ENDPOINT; Ctrl-C stops it"
    wait "$SERVER_PID"
    exit 0
fi

loadprof_bin
start_server
MODEL_ARGS=()
for p in $PRESETS; do MODEL_ARGS+=(--model "m-$p"); done
say "$LOADPROF llm --api openai --endpoint $ENDPOINT ${MODEL_ARGS[*]} --runs $RUNS --warmup $WARMUP --max-tokens $MAX_TOKENS --concurrency $CONCURRENCY -o $OUT ${EXTRA[*]-}"
t0=$SECONDS
set +e
timeout --kill-after=10 "$BENCH_TIMEOUT" "$LOADPROF" llm --api openai --endpoint "$ENDPOINT" "${MODEL_ARGS[@]}" \
    --runs "$RUNS" --warmup "$WARMUP" --max-tokens "$MAX_TOKENS" --concurrency "$CONCURRENCY" \
    --timeout 5m -o "$OUT" ${EXTRA[@]+"${EXTRA[@]}"} 2>&1 | tee "$RUN/loadprof.out"
rc=${PIPESTATUS[0]}
set -e
say "loadprof exited $rc after $((SECONDS - t0)) s"
((rc == 124)) && say "loadprof did not finish within $BENCH_TIMEOUT s"
capture_raw "m-${PRESETS%% *}"
if [[ -f scripts/llm_server_log.py ]]; then
    say "llama.cpp's own timings per model, from $RUN/server.log (for comparison with the scorecard):"
    "$PY" scripts/llm_server_log.py "$RUN/server.log" >&2 || true
fi
say "loadprof: $LOADPROF — $LOADPROF_WHAT; scorecard also in $RUN/loadprof.out"
exit "$rc"
