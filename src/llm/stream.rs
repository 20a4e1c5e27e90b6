//! The two streaming wire formats of LLM servers, as the bytes arrive:
//! NDJSON (Ollama's `/api/generate` and `/api/chat`) and Server-Sent Events
//! (`/v1/chat/completions`), and what each chunk says: a token (answer or
//! thinking), the server's own counts and timings, an error, or the end.
//! Pure: bytes in, pieces out; the caller stamps the times.

use serde_json::Value;

/// Splits a body into payloads: NDJSON lines, or the `data` of SSE events
/// (multi-line data joined with `\n`; comments, `event:`, `id:` and
/// `retry:` lines skipped; `\r\n`, `\r` and `\n` all end a line).
#[derive(Debug, Clone)]
pub struct Framer {
    sse: bool,
    line: Vec<u8>,
    after_cr: bool,
    data: Option<String>,
}

impl Framer {
    pub fn ndjson() -> Framer {
        Framer {
            sse: false,
            line: Vec::new(),
            after_cr: false,
            data: None,
        }
    }

    pub fn sse() -> Framer {
        Framer {
            sse: true,
            ..Framer::ndjson()
        }
    }

    /// Reads the next piece of the body; complete payloads go to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<String>) {
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    self.end_line(&line, out);
                }
                _ => {
                    self.after_cr = false;
                    self.line.push(b);
                }
            }
        }
    }

    /// The body ended: a last line without its terminator still counts, and
    /// so does an SSE event without its blank line.
    pub fn finish(&mut self, out: &mut Vec<String>) {
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() {
            self.end_line(&line, out);
        }
        if let Some(d) = self.data.take() {
            out.push(d);
        }
    }

    fn end_line(&mut self, line: &[u8], out: &mut Vec<String>) {
        let text = String::from_utf8_lossy(line);
        if !self.sse {
            if !text.trim().is_empty() {
                out.push(text.into_owned());
            }
            return;
        }
        if text.is_empty() {
            if let Some(d) = self.data.take() {
                out.push(d);
            }
            return;
        }
        if text.starts_with(':') {
            return;
        }
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (text.as_ref(), ""),
        };
        if field == "data" {
            match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            }
        }
    }
}

/// What the server reported about a request, from its last chunks. Every
/// field may be missing: Ollama omits zero values, and OpenAI-compatible
/// servers differ in what they send.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ServerReport {
    /// Output tokens (`eval_count`, `usage.completion_tokens`, `timings.predicted_n`).
    pub output_tokens: Option<u64>,
    /// Decode time, nanoseconds (`eval_duration`, `timings.predicted_ms`).
    pub decode_ns: Option<u64>,
    /// Prompt tokens, cached ones included (`prompt_eval_count`, `usage.prompt_tokens`).
    pub prompt_tokens: Option<u64>,
    /// Prompt evaluation time, nanoseconds: only the tokens not cached.
    pub prompt_ns: Option<u64>,
    /// Ollama: waiting for a runner plus loading the model.
    pub load_ns: Option<u64>,
    pub total_ns: Option<u64>,
    /// `stop`, `length`, ...
    pub done_reason: Option<String>,
}

/// One payload, read.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Text the model produced (`thinking`: reasoning, not the answer).
    Token { text: String, thinking: bool },
    /// The server's counts and timings (the last chunk, or a usage chunk).
    Report(ServerReport),
    /// The request failed, in the server's words.
    Error(String),
    /// The end of the stream (Ollama `done`, OpenAI `[DONE]`).
    Done,
    /// A chunk with nothing to record (a role-only delta, an empty token).
    Nothing,
}

fn u(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f.round() as u64))
}

fn error_text(v: &Value) -> Option<String> {
    match v.get("error")? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        e => Some(e["message"].as_str().map_or_else(|| e.to_string(), str::to_string)),
    }
}

/// Reads one Ollama NDJSON line. A chunk can carry a token and be the last;
/// the pieces come in that order.
pub fn ollama(line: &str) -> Vec<Piece> {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return vec![Piece::Error(format!(
            "not JSON: {}",
            line.chars().take(200).collect::<String>()
        ))];
    };
    if let Some(e) = error_text(&v) {
        return vec![Piece::Error(e)];
    }
    let mut out = Vec::new();
    let msg = &v["message"];
    for (text, thinking) in [
        (v["thinking"].as_str().or(msg["thinking"].as_str()), true),
        (v["response"].as_str().or(msg["content"].as_str()), false),
    ] {
        if let Some(t) = text.filter(|t| !t.is_empty()) {
            out.push(Piece::Token {
                text: t.to_string(),
                thinking,
            });
        }
    }
    if v["done"].as_bool() == Some(true) {
        out.push(Piece::Report(ServerReport {
            output_tokens: u(&v["eval_count"]),
            decode_ns: u(&v["eval_duration"]),
            prompt_tokens: u(&v["prompt_eval_count"]),
            prompt_ns: u(&v["prompt_eval_duration"]),
            load_ns: u(&v["load_duration"]),
            total_ns: u(&v["total_duration"]),
            done_reason: v["done_reason"].as_str().map(str::to_string),
        }));
        out.push(Piece::Done);
    }
    if out.is_empty() {
        out.push(Piece::Nothing);
    }
    out
}

/// Reads one SSE `data` payload of `/v1/chat/completions`.
pub fn openai(data: &str) -> Vec<Piece> {
    if data.trim() == "[DONE]" {
        return vec![Piece::Done];
    }
    let Ok(v) = serde_json::from_str::<Value>(data) else {
        return vec![Piece::Error(format!(
            "not JSON: {}",
            data.chars().take(200).collect::<String>()
        ))];
    };
    if let Some(e) = error_text(&v) {
        return vec![Piece::Error(e)];
    }
    let mut out = Vec::new();
    let choice = &v["choices"][0];
    let delta = if choice["delta"].is_object() {
        &choice["delta"]
    } else {
        &choice["message"]
    };
    for key in ["reasoning_content", "reasoning"] {
        if let Some(t) = delta[key].as_str().filter(|t| !t.is_empty()) {
            out.push(Piece::Token {
                text: t.to_string(),
                thinking: true,
            });
        }
    }
    if let Some(t) = delta["content"].as_str().filter(|t| !t.is_empty()) {
        out.push(Piece::Token {
            text: t.to_string(),
            thinking: false,
        });
    } else if choice["text"].as_str().is_some_and(|t| !t.is_empty()) {
        out.push(Piece::Token {
            text: choice["text"].as_str().unwrap_or_default().to_string(),
            thinking: false,
        });
    }
    if delta["tool_calls"].as_array().is_some_and(|a| !a.is_empty()) {
        out.push(Piece::Token {
            text: String::new(),
            thinking: false,
        });
    }
    let usage = &v["usage"];
    let timings = &v["timings"];
    let finish = choice["finish_reason"].as_str().map(str::to_string);
    if usage.is_object() || timings.is_object() || finish.is_some() {
        let ms_to_ns = |x: &Value| x.as_f64().map(|ms| (ms * 1e6).round() as u64);
        out.push(Piece::Report(ServerReport {
            output_tokens: u(&usage["completion_tokens"]).or_else(|| u(&timings["predicted_n"])),
            decode_ns: ms_to_ns(&timings["predicted_ms"]),
            prompt_tokens: u(&usage["prompt_tokens"]).or_else(|| {
                let n = u(&timings["prompt_n"])?;
                Some(n + u(&timings["cache_n"]).unwrap_or(0))
            }),
            prompt_ns: ms_to_ns(&timings["prompt_ms"]),
            load_ns: None,
            total_ns: None,
            done_reason: finish,
        }));
    }
    if out.is_empty() {
        out.push(Piece::Nothing);
    }
    out
}

impl ServerReport {
    /// Adds what `other` knows and this one does not (a finish chunk, then
    /// a usage chunk).
    pub fn merge(&mut self, other: ServerReport) {
        self.output_tokens = self.output_tokens.or(other.output_tokens);
        self.decode_ns = self.decode_ns.or(other.decode_ns);
        self.prompt_tokens = self.prompt_tokens.or(other.prompt_tokens);
        self.prompt_ns = self.prompt_ns.or(other.prompt_ns);
        self.load_ns = self.load_ns.or(other.load_ns);
        self.total_ns = self.total_ns.or(other.total_ns);
        self.done_reason = self.done_reason.take().or(other.done_reason);
    }

    /// The server's decode rate, tokens per second: `eval_count / eval_duration`.
    pub fn decode_rate(&self) -> Option<f64> {
        let (n, ns) = (self.output_tokens?, self.decode_ns?);
        (ns > 0).then(|| n as f64 / (ns as f64 / 1e9))
    }

    /// The server's prompt rate. Ollama counts cached prompt tokens but
    /// times only the rest, so with a warm cache this overstates prefill.
    pub fn prompt_rate(&self) -> Option<f64> {
        let (n, ns) = (self.prompt_tokens?, self.prompt_ns?);
        (ns > 0).then(|| n as f64 / (ns as f64 / 1e9))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(mut f: Framer, parts: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for p in parts {
            f.push(p.as_bytes(), &mut out);
        }
        f.finish(&mut out);
        out
    }

    #[test]
    fn ndjson_lines_split_anywhere_and_a_last_line_without_newline_counts() {
        let got = frames(Framer::ndjson(), &["{\"a\":", "1}\n\n{\"b\"", ":2}\r\n{\"c\":3}"]);
        assert_eq!(got, ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
    }

    #[test]
    fn sse_events_skip_comments_and_join_multiline_data_with_any_line_ending() {
        let got = frames(
            Framer::sse(),
            &[
                ": ping - 2026-01-01\r\n\r\n",
                "event: message\ndata: {\"x\":",
                "1}\n\ndata: a\ndata: b\r\n\r\nid: 7\nretry: 10\n\n",
                "data:[DONE]\r\r",
                "data: tail",
            ],
        );
        assert_eq!(got, ["{\"x\":1}", "a\nb", "[DONE]", "tail"]);
    }

    #[test]
    fn ollama_tokens_the_final_report_and_omitted_metrics() {
        assert_eq!(
            ollama(r#"{"model":"m","response":"Hi","done":false}"#),
            [Piece::Token {
                text: "Hi".into(),
                thinking: false
            }]
        );
        assert_eq!(ollama(r#"{"model":"m","response":"","done":false}"#), [Piece::Nothing]);
        assert_eq!(
            ollama(r#"{"message":{"role":"assistant","content":"","thinking":"hmm"},"done":false}"#),
            [Piece::Token {
                text: "hmm".into(),
                thinking: true
            }]
        );
        // Zero values are left out by the server: load_duration and
        // prompt_eval_duration are missing here.
        let last = ollama(
            r#"{"model":"m","response":"","done":true,"done_reason":"length","total_duration":2000000000,"prompt_eval_count":12,"eval_count":100,"eval_duration":1250000000}"#,
        );
        let Piece::Report(r) = &last[0] else { panic!("{last:?}") };
        assert_eq!(r.output_tokens, Some(100));
        assert_eq!(r.load_ns, None);
        assert_eq!(r.prompt_ns, None);
        assert_eq!(r.done_reason.as_deref(), Some("length"));
        assert_eq!(r.decode_rate(), Some(80.0));
        assert_eq!(r.prompt_rate(), None);
        assert_eq!(last[1], Piece::Done);
        assert_eq!(
            ollama(r#"{"error":"an error was encountered while running the model"}"#),
            [Piece::Error("an error was encountered while running the model".into())]
        );
        assert!(matches!(&ollama("{not json")[0], Piece::Error(e) if e.starts_with("not JSON")));
    }

    #[test]
    fn openai_role_only_chunks_usage_timings_and_errors() {
        let role = r#"{"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#;
        assert_eq!(openai(role), [Piece::Nothing]);
        let tok = r#"{"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null}"#;
        assert_eq!(
            openai(tok),
            [Piece::Token {
                text: "Hello".into(),
                thinking: false
            }]
        );
        let reasoning = r#"{"choices":[{"delta":{"reasoning_content":"let me see"}}]}"#;
        assert!(matches!(&openai(reasoning)[0], Piece::Token { thinking: true, .. }));
        let finish = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#;
        let usage = r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":64,"total_tokens":73}}"#;
        let mut r = ServerReport::default();
        for p in openai(finish).into_iter().chain(openai(usage)) {
            if let Piece::Report(x) = p {
                r.merge(x);
            }
        }
        assert_eq!(r.done_reason.as_deref(), Some("length"));
        assert_eq!((r.prompt_tokens, r.output_tokens), (Some(9), Some(64)));
        let llamacpp = r#"{"choices":[{"delta":{},"finish_reason":"stop"}],"timings":{"cache_n":3,"prompt_n":5,"prompt_ms":10.0,"predicted_n":50,"predicted_ms":500.0}}"#;
        let Piece::Report(t) = &openai(llamacpp)[0] else {
            panic!()
        };
        assert_eq!((t.output_tokens, t.prompt_tokens), (Some(50), Some(8)));
        assert_eq!(t.decode_rate(), Some(100.0));
        assert_eq!(openai("[DONE]"), [Piece::Done]);
        assert_eq!(
            openai(r#"{"error":{"message":"model 'x' not found","type":"not_found_error"}}"#),
            [Piece::Error("model 'x' not found".into())]
        );
    }
}
