#!/usr/bin/env python3
"""Write a small llama-architecture GGUF model with random weights.

No download: the weights are seeded random numbers and the tokenizer is a
556-token SentencePiece-style vocabulary (`tokenizer.ggml.model = "llama"`)
made here: <unk>, <s>, </s>, 256 <0xNN> byte-fallback tokens, the printable
ASCII characters and "▁", and 202 merges learned (byte-pair style) from a
short built-in English text, so prompts tokenize at a few characters per
token, as with a real tokenizer. llama.cpp (and so llama-cpp-python) loads,
tokenizes, chat-templates, samples and streams it like any model.

The output head gives special and byte tokens all-zero rows and the other
rows a scale that makes logits have a standard deviation of about 8: byte
tokens (invalid UTF-8 on their own, which makes servers hold text back) and
</s> are then never chosen, so every answer runs to max_tokens and streams
one token per chunk. --allow-eos lets </s> end answers.

Sizes (parameters, with this vocabulary):
    --preset 25m   d=512  layers=6  ff=2048  heads=8   ->  25.7 M
    --preset 200m  d=1024 layers=12 ff=4096  heads=16  -> 202.5 M
    --preset 800m  d=2048 layers=16 ff=5632  heads=16  -> 824.2 M
or give --dim/--layers/--ff/--heads yourself.

Usage: llm_tiny_gguf.py OUT.gguf [--preset 25m|200m|800m] [--type q8_0|f16|f32]
                        [--seed N] [--ctx N] [--allow-eos] [--name NAME]
Needs: gguf, numpy (PyPI).
"""

import argparse
import collections
import os
import sys
import time

import numpy as np
import gguf

PRESETS = {
    "tiny": dict(dim=64, layers=2, ff=256, heads=4),
    "25m": dict(dim=512, layers=6, ff=2048, heads=8),
    "200m": dict(dim=1024, layers=12, ff=4096, heads=16),
    "800m": dict(dim=2048, layers=16, ff=5632, heads=16),
}

VOCAB_SIZE = 556
SPACE = "\u2581"  # ▁, SentencePiece's word-boundary mark

# The text the merges are learned from: plain English of the kind the
# benchmarks send (hash maps, release notes, JSON, arithmetic, greetings).
CORPUS = """
Explain how a hash map works: how keys are hashed into buckets, what happens on a collision,
when and how the table grows, and what that means for the cost of lookups and inserts.
Give a short example in plain words. A hash map stores each value under a key. The key is
hashed into a number, and the number picks a bucket in the table. When two keys land in the
same bucket, that is a collision, and the table keeps both, in a list or in the next free slot.
When the table is too full, it grows: it makes a larger table and moves every entry into it.
Lookups and inserts then take constant time on average, and the rare growth is paid for over
many inserts. You have three apples. You buy two more, then eat one. How many apples do you have
now? Answer with the number. The answer is four. Write a friendly release note for version one
of a command-line tool that now starts twice as fast. Use exactly two sentences and reply with
the note only. This release makes the tool start twice as fast, so your work begins sooner.
Thank you for using it, and tell us what you think. Reply with a JSON object only, with exactly
these keys: the title, the risks and the owner. The change is moving the billing service to a
new database. Say hello in one short sentence. Hello there, it is good to see you. The server
answers each request with a stream of tokens, and the client measures the time to the first
token, the rate of the rest, and the memory the server holds while the model runs. A larger
model is often better but slower; a smaller model is faster and may be good enough for the work.
The quick brown fox jumps over the lazy dog. What is the capital of France? Paris is the capital.
"""


def build_vocab():
    """Tokens, scores and types, VOCAB_SIZE of them."""
    T = gguf.TokenType
    tokens, scores, types = ["<unk>", "<s>", "</s>"], [0.0, 0.0, 0.0], [T.UNKNOWN, T.CONTROL, T.CONTROL]
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        scores.append(0.0)
        types.append(T.BYTE)
    chars = [SPACE] + [chr(c) for c in range(33, 127)]
    for c in chars:
        tokens.append(c)
        scores.append(-1000.0)
        types.append(T.NORMAL)
    # Byte-pair merges over the corpus, words as SentencePiece sees them.
    words = collections.Counter(SPACE + w for w in CORPUS.split())
    seqs = {w: list(w) for w in words}
    have = set(tokens)
    rank = 0
    while len(tokens) < VOCAB_SIZE:
        pairs = collections.Counter()
        for w, n in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += n
        best = next(((a, b) for (a, b), _ in pairs.most_common() if a + b not in have), None)
        if best is None:
            break
        merged = best[0] + best[1]
        have.add(merged)
        tokens.append(merged)
        scores.append(-float(rank))  # earlier merges win (llama.cpp merges the highest score first)
        types.append(T.NORMAL)
        rank += 1
        for w in words:
            s, out, i = seqs[w], [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == best[0] and s[i + 1] == best[1]:
                    out.append(merged)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    i = 0
    while len(tokens) < VOCAB_SIZE:  # only if the corpus ran out of pairs
        tokens.append(f"<unused{i}>")
        scores.append(-1e9)
        types.append(T.UNUSED)
        i += 1
    assert len(tokens) == VOCAB_SIZE and len(set(tokens)) == VOCAB_SIZE
    return tokens, scores, types


CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}System: {% elif m['role'] == 'user' %}User: {% else %}Assistant: {% endif %}"
    "{{ m['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
)


def count_params(dim, layers, ff, heads, kv_heads, vocab):
    hd = dim // heads
    per_layer = dim * dim * 2 + 2 * dim * kv_heads * hd + 3 * dim * ff + 2 * dim
    return layers * per_layer + 2 * vocab * dim + dim


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    p.add_argument("--dim", type=int)
    p.add_argument("--layers", type=int)
    p.add_argument("--ff", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--kv-heads", type=int)
    p.add_argument("--ctx", type=int, default=2048)
    p.add_argument("--type", choices=["q8_0", "f16", "f32"], default="q8_0")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--logit-scale", type=float, default=8.0, help="std of the logits of ordinary tokens")
    p.add_argument("--allow-eos", action="store_true", help="let </s> be sampled (answers may end early)")
    p.add_argument("--name", help="general.name (default: the file's stem)")
    a = p.parse_args()

    shape = dict(PRESETS[a.preset])
    for k in ("dim", "layers", "ff", "heads"):
        if getattr(a, k) is not None:
            shape[k] = getattr(a, k)
    dim, layers, ff, heads = shape["dim"], shape["layers"], shape["ff"], shape["heads"]
    kv_heads = a.kv_heads or heads
    hd = dim // heads
    if dim % heads or heads % kv_heads or hd % 2:
        sys.exit("dim must split into heads of an even size, and heads into kv heads")
    qtype = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "f16": gguf.GGMLQuantizationType.F16,
             "f32": gguf.GGMLQuantizationType.F32}[a.type]
    ftype = {"q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "f32": gguf.LlamaFileType.ALL_F32}[a.type]
    if qtype == gguf.GGMLQuantizationType.Q8_0 and (dim % 32 or ff % 32):
        sys.exit("q8_0 needs dim and ff to be multiples of 32")

    tokens, scores, types = build_vocab()
    vocab = len(tokens)
    n_params = count_params(dim, layers, ff, heads, kv_heads, vocab)
    name = a.name or os.path.splitext(os.path.basename(a.out))[0]
    t0 = time.time()

    tmp = a.out + ".part"
    w = gguf.GGUFWriter(tmp, "llama", use_temp_file=False)
    w.add_name(name)
    w.add_file_type(int(ftype))
    w.add_context_length(a.ctx)
    w.add_embedding_length(dim)
    w.add_block_count(layers)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_dimension_count(hd)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(vocab)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types([int(t) for t in types])
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_chat_template(CHAT_TEMPLATE)

    rng = np.random.default_rng(a.seed)

    def weight(rows, cols, std):
        return (rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(std))

    def put(tname, data):
        if data.ndim == 1 or qtype == gguf.GGMLQuantizationType.F32:
            w.add_tensor(tname, data.astype(np.float32))
        elif qtype == gguf.GGMLQuantizationType.F16:
            w.add_tensor(tname, data.astype(np.float16))
        else:
            q = gguf.quants.quantize(data, qtype)
            w.add_tensor(tname, q, raw_dtype=qtype)

    std = 0.02
    put("token_embd.weight", weight(vocab, dim, 1.0))
    for i in range(layers):
        put(f"blk.{i}.attn_norm.weight", np.ones(dim, np.float32))
        put(f"blk.{i}.attn_q.weight", weight(dim, dim, std))
        put(f"blk.{i}.attn_k.weight", weight(kv_heads * hd, dim, std))
        put(f"blk.{i}.attn_v.weight", weight(kv_heads * hd, dim, std))
        put(f"blk.{i}.attn_output.weight", weight(dim, dim, std))
        put(f"blk.{i}.ffn_norm.weight", np.ones(dim, np.float32))
        put(f"blk.{i}.ffn_gate.weight", weight(ff, dim, std))
        put(f"blk.{i}.ffn_up.weight", weight(ff, dim, std))
        put(f"blk.{i}.ffn_down.weight", weight(dim, ff, std))
    put("output_norm.weight", np.ones(dim, np.float32))
    # After the final RMS norm the hidden state has unit RMS, so a row of
    # std s gives logits of std s*sqrt(dim).
    out = weight(vocab, dim, a.logit_scale / np.sqrt(dim))
    banned = [i for i, t in enumerate(types) if t in (gguf.TokenType.BYTE, gguf.TokenType.UNKNOWN,
                                                        gguf.TokenType.CONTROL, gguf.TokenType.UNUSED)]
    if a.allow_eos:
        banned.remove(2)
    out[banned] = 0.0
    put("output.weight", out)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, a.out)
    size = os.path.getsize(a.out)
    print(f"{a.out}: {name}, llama, {n_params / 1e6:.1f} M parameters (dim {dim}, {layers} layers, ff {ff}, "
          f"{heads} heads), {a.type}, vocab {vocab}, {size / 2**20:.1f} MiB, written in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
