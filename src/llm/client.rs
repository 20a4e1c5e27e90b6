//! One client for both APIs: the model list, a model's details, what is
//! loaded, unloading, and one streamed generation timed as its bytes
//! arrive. The same code talks to a real Ollama (or vLLM, llama.cpp's
//! server, LM Studio) and to the test suite's fixtures.

use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use serde_json::{Value, json};

use super::Api;
use super::stream::{Framer, Piece, ServerReport};
use crate::http::{FetchError, read_body, send};

/// Why a call to the server failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// Nothing answered at the endpoint at all.
    #[error("nothing answers at {endpoint} ({reason}); is `ollama serve` (or the OpenAI-compatible server) running?")]
    Unreachable { endpoint: String, reason: String },
    /// The server does not have the model.
    #[error("the server at {endpoint} has no model '{model}'; it has: {}", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    UnknownModel {
        endpoint: String,
        model: String,
        available: Vec<String>,
    },
    /// The server answered with an error.
    #[error("{what}: {status} {message}")]
    Status { what: String, status: u16, message: String },
    /// The answer was not what the API promises.
    #[error("{0}")]
    Protocol(String),
}

/// A model as the server lists and describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelInfo {
    pub name: String,
    /// As the server writes it (`8.0B`).
    pub params: Option<String>,
    pub quant: Option<String>,
    pub family: Option<String>,
    /// Bytes on disk.
    pub size_bytes: Option<u64>,
    pub context_length: Option<u64>,
}

/// A loaded model (`/api/ps`).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub name: String,
    pub size: u64,
    pub size_vram: u64,
}

/// One generation to time.
#[derive(Debug, Clone)]
pub struct GenRequest {
    pub model: String,
    pub prompt: String,
    pub max_tokens: u32,
    pub seed: u64,
}

/// One timed generation.
#[derive(Debug, Clone, Default)]
pub struct Timed {
    /// First byte of the body.
    pub ttfb: Option<Duration>,
    /// First chunk with text (answer or thinking).
    pub ttft: Option<Duration>,
    /// Until the stream ended.
    pub e2e: Duration,
    /// When each chunk with text arrived.
    pub token_times: Vec<Duration>,
    pub text: String,
    pub thinking: String,
    pub report: ServerReport,
    /// Why the request failed, if it did.
    pub error: Option<String>,
}

impl Timed {
    /// Output tokens: the server's count, else the chunks with text.
    pub fn tokens(&self) -> (u64, bool) {
        match self.report.output_tokens {
            Some(n) => (n, false),
            None => (self.token_times.len() as u64, true),
        }
    }

    /// Decode rate seen by the client: tokens after the first over the time
    /// from the first to the last chunk with text.
    pub fn client_decode_rate(&self) -> Option<f64> {
        let (n, _) = self.tokens();
        let (first, last) = (*self.token_times.first()?, *self.token_times.last()?);
        let span = last.checked_sub(first)?.as_secs_f64();
        (n > 1 && span > 0.0).then(|| (n - 1) as f64 / span)
    }

    /// Gaps between consecutive chunks with text.
    pub fn gaps(&self) -> impl Iterator<Item = Duration> + '_ {
        self.token_times.windows(2).map(|w| w[1].saturating_sub(w[0]))
    }
}

/// Most of an API answer read (a model list, a model's details).
const ANSWER_LIMIT: usize = 16 << 20;
/// Most of one generation's stream read: far beyond any `max_tokens`, so
/// only a server that streams without end reaches it.
const STREAM_LIMIT: u64 = 64 << 20;

/// The client of one server.
#[derive(Clone)]
pub struct Client {
    /// The base URL requests go to, credentials and all.
    base: String,
    /// The endpoint as it may be shown (no user, password or key).
    endpoint: String,
    api: Api,
    /// Sent with every request: `Authorization: Bearer KEY` (marked
    /// sensitive), when the server needs a key.
    headers: http::HeaderMap,
    /// For the whole of one generation.
    pub timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("api", &self.api)
            .field("api_key", &self.headers.contains_key(http::header::AUTHORIZATION))
            .finish()
    }
}

fn unreachable(endpoint: &str, e: FetchError) -> LlmError {
    LlmError::Unreachable {
        endpoint: endpoint.to_string(),
        reason: match e {
            FetchError::Connect { reason, .. } => reason,
            other => other.to_string(),
        },
    }
}

/// The error message in a body: Ollama's `{"error": "..."}`, OpenAI's
/// `{"error": {"message": ...}}`, or the text.
fn message_of(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => match &v["error"] {
            Value::String(s) => s.clone(),
            Value::Object(o) => o
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| v["error"].to_string(), str::to_string),
            _ => String::from_utf8_lossy(body).chars().take(300).collect(),
        },
        Err(_) => String::from_utf8_lossy(body).chars().take(300).collect(),
    }
}

impl Client {
    pub fn new(endpoint: &str, api: Api) -> Client {
        let base = endpoint.trim_end_matches('/').to_string();
        Client {
            endpoint: crate::redact::url(&base).into_owned(),
            base,
            api,
            headers: http::HeaderMap::new(),
            timeout: Duration::from_secs(600),
        }
    }

    /// Sends `key` as `Authorization: Bearer KEY` (vLLM's `--api-key`,
    /// OpenAI, and Ollama behind a proxy all read it).
    pub fn with_api_key(mut self, key: &str) -> Result<Client, String> {
        let mut v = http::HeaderValue::try_from(format!("Bearer {}", key.trim()))
            .map_err(|_| "the API key holds characters a header cannot carry".to_string())?;
        v.set_sensitive(true);
        self.headers.insert(http::header::AUTHORIZATION, v);
        Ok(self)
    }

    /// The endpoint as it may be shown: no user, password or secret query.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn call(&self, method: http::Method, path: &str, body: Option<&Value>) -> Result<(u16, Vec<u8>), LlmError> {
        let url = format!("{}{path}", self.base);
        let payload = body.map(|b| (b.to_string().into_bytes(), "application/json"));
        let resp = send(method, &url, payload, &self.headers)
            .await
            .map_err(|e| unreachable(&self.endpoint, e))?;
        let status = resp.status().as_u16();
        let bytes = read_body(resp.into_body(), ANSWER_LIMIT, &url)
            .await
            .map_err(|e| LlmError::Protocol(format!("{path}: {e}")))?;
        Ok((status, bytes))
    }

    async fn json(&self, method: http::Method, path: &str, body: Option<&Value>) -> Result<Value, LlmError> {
        let (status, bytes) = self.call(method, path, body).await?;
        if !(200..300).contains(&status) {
            return Err(LlmError::Status {
                what: path.to_string(),
                status,
                message: message_of(&bytes),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| LlmError::Protocol(format!("{path}: not JSON: {e}")))
    }

    /// The server's version (`/api/version`; OpenAI-compatible servers have none).
    pub async fn version(&self) -> Option<String> {
        match self.api {
            Api::Ollama => self.json(http::Method::GET, "/api/version", None).await.ok()?["version"]
                .as_str()
                .map(str::to_string),
            Api::Openai => None,
        }
    }

    /// The models the server has (`/api/tags`, `/v1/models`).
    pub async fn models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        let v = match self.api {
            Api::Ollama => self.json(http::Method::GET, "/api/tags", None).await?,
            Api::Openai => self.json(http::Method::GET, "/v1/models", None).await?,
        };
        let list = match self.api {
            Api::Ollama => &v["models"],
            Api::Openai => &v["data"],
        };
        let list = list.as_array().ok_or_else(|| {
            LlmError::Protocol(format!(
                "the model list has no {} array; is this an {} server?",
                if self.api == Api::Ollama {
                    "\"models\""
                } else {
                    "\"data\""
                },
                if self.api == Api::Ollama {
                    "Ollama"
                } else {
                    "OpenAI-compatible"
                }
            ))
        })?;
        Ok(list
            .iter()
            .filter_map(|m| {
                let name = m["name"].as_str().or(m["id"].as_str())?.to_string();
                Some(ModelInfo {
                    name,
                    params: m["details"]["parameter_size"].as_str().map(str::to_string),
                    quant: m["details"]["quantization_level"].as_str().map(str::to_string),
                    family: m["details"]["family"].as_str().map(str::to_string),
                    size_bytes: m["size"].as_u64(),
                    context_length: None,
                })
            })
            .collect())
    }

    /// A model's details (`/api/show`); what the list said for other servers.
    pub async fn show(&self, listed: &ModelInfo) -> Result<ModelInfo, LlmError> {
        if self.api != Api::Ollama {
            return Ok(listed.clone());
        }
        let v = self
            .json(http::Method::POST, "/api/show", Some(&json!({ "model": listed.name })))
            .await?;
        let d = &v["details"];
        let info = &v["model_info"];
        let arch = info["general.architecture"].as_str().unwrap_or("");
        Ok(ModelInfo {
            name: listed.name.clone(),
            params: d["parameter_size"]
                .as_str()
                .map(str::to_string)
                .or_else(|| listed.params.clone()),
            quant: d["quantization_level"]
                .as_str()
                .map(str::to_string)
                .or_else(|| listed.quant.clone()),
            family: d["family"]
                .as_str()
                .map(str::to_string)
                .or_else(|| listed.family.clone()),
            size_bytes: listed.size_bytes,
            context_length: info[format!("{arch}.context_length")].as_u64(),
        })
    }

    /// The loaded models (`/api/ps`); empty for OpenAI-compatible servers.
    pub async fn loaded(&self) -> Result<Vec<Loaded>, LlmError> {
        if self.api != Api::Ollama {
            return Ok(Vec::new());
        }
        let v = self.json(http::Method::GET, "/api/ps", None).await?;
        Ok(v["models"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| {
                        Some(Loaded {
                            name: m["name"].as_str().or(m["model"].as_str())?.to_string(),
                            size: m["size"].as_u64().unwrap_or(0),
                            size_vram: m["size_vram"].as_u64().unwrap_or(0),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Unloads a model (Ollama: an empty prompt with `keep_alive: 0`), so
    /// the next request times a cold load. Other servers cannot.
    pub async fn unload(&self, model: &str) -> Result<bool, LlmError> {
        if self.api != Api::Ollama {
            return Ok(false);
        }
        self.json(
            http::Method::POST,
            "/api/generate",
            Some(&json!({ "model": model, "keep_alive": 0, "stream": false })),
        )
        .await?;
        Ok(true)
    }

    fn body(&self, r: &GenRequest) -> (String, Value) {
        match self.api {
            Api::Ollama => (
                "/api/generate".into(),
                json!({
                    "model": r.model,
                    "prompt": r.prompt,
                    "stream": true,
                    "keep_alive": "10m",
                    "options": { "num_predict": r.max_tokens, "temperature": 0, "seed": r.seed },
                }),
            ),
            Api::Openai => (
                "/v1/chat/completions".into(),
                json!({
                    "model": r.model,
                    "messages": [{ "role": "user", "content": r.prompt }],
                    "stream": true,
                    "stream_options": { "include_usage": true },
                    "max_tokens": r.max_tokens,
                    "temperature": 0,
                    "seed": r.seed,
                }),
            ),
        }
    }

    /// Sends one streamed generation and times it. A failure of the server
    /// (an error status, an error inside the stream, a stream that ends
    /// without its end) is a failed request in `Timed::error`; only a
    /// server that cannot be reached at all is an `Err`.
    pub async fn generate(&self, r: &GenRequest) -> Result<Timed, LlmError> {
        let (path, body) = self.body(r);
        let url = format!("{}{path}", self.base);
        let t0 = Instant::now();
        let mut t = Timed::default();
        let work = async {
            let resp = send(
                http::Method::POST,
                &url,
                Some((body.to_string().into_bytes(), "application/json")),
                &self.headers,
            )
            .await
            .map_err(|e| unreachable(&self.endpoint, e))?;
            let status = resp.status().as_u16();
            let mut body = resp.into_body();
            if !(200..300).contains(&status) {
                let bytes = read_body(body, ANSWER_LIMIT, &url).await.unwrap_or_default();
                let message = message_of(&bytes);
                if status == 404 {
                    return Err(LlmError::Status {
                        what: r.model.clone(),
                        status,
                        message,
                    });
                }
                t.error = Some(format!("{status} {message}"));
                return Ok(());
            }
            let mut framer = match self.api {
                Api::Ollama => Framer::ndjson(),
                Api::Openai => Framer::sse(),
            };
            let mut payloads = Vec::new();
            let mut done = false;
            let mut read: u64 = 0;
            loop {
                let frame = match body.frame().await {
                    None => {
                        framer.finish(&mut payloads);
                        self.read(&mut t, &mut payloads, t0.elapsed(), &mut done);
                        break;
                    }
                    Some(Err(e)) => {
                        if !done {
                            t.error.get_or_insert(format!("the stream broke off: {e}"));
                        }
                        break;
                    }
                    Some(Ok(f)) => f,
                };
                let at = t0.elapsed();
                if let Ok(data) = frame.into_data() {
                    read += data.len() as u64;
                    if read > STREAM_LIMIT {
                        t.error = Some(format!(
                            "the stream went on past {} MiB without ending; it was cut off there",
                            STREAM_LIMIT >> 20
                        ));
                        break;
                    }
                    t.ttfb.get_or_insert(at);
                    framer.push(&data, &mut payloads);
                    self.read(&mut t, &mut payloads, at, &mut done);
                }
                if t.error.is_some() {
                    break;
                }
            }
            if t.error.is_none() {
                if !done {
                    t.error = Some(format!(
                        "the stream ended without its last chunk (no \"done\" / [DONE]) after {} chunk(s) with text",
                        t.token_times.len()
                    ));
                } else if t.report.done_reason.is_none() && self.api == Api::Openai {
                    // [DONE] without a finish_reason: the server cut the
                    // answer short (llama-cpp-python interrupts a stream
                    // when another request waits).
                    t.error = Some(format!(
                        "the server ended the stream after {} chunk(s) with text and no finish_reason: the answer was cut short",
                        t.token_times.len()
                    ));
                }
            }
            Ok(())
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r?,
            Err(_) => {
                t.error = Some(format!("no complete answer within {}s", self.timeout.as_secs()));
            }
        }
        t.e2e = t0.elapsed();
        Ok(t)
    }

    fn read(&self, t: &mut Timed, payloads: &mut Vec<String>, at: Duration, done: &mut bool) {
        for p in payloads.drain(..) {
            let pieces = match self.api {
                Api::Ollama => super::stream::ollama(&p),
                Api::Openai => super::stream::openai(&p),
            };
            for piece in pieces {
                match piece {
                    Piece::Token { text, thinking } => {
                        t.ttft.get_or_insert(at);
                        t.token_times.push(at);
                        if thinking {
                            t.thinking.push_str(&text);
                        } else {
                            t.text.push_str(&text);
                        }
                    }
                    Piece::Report(r) => t.report.merge(r),
                    Piece::Error(e) => {
                        t.error.get_or_insert(e);
                    }
                    Piece::Done => *done = true,
                    Piece::Nothing => {}
                }
            }
        }
    }
}

/// Parameters from a model's name when the server says nothing: the last
/// size-like part (`llama3.2:3b`, `qwen2.5-7b-instruct`, `m-200m`, `1.5B`).
pub fn params_from_name(name: &str) -> Option<f64> {
    let lower = name.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut found = None;
    let mut i = 0;
    while i < bytes.len() {
        let at_boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.');
        if at_boundary && bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            let unit_ends = i + 1 == bytes.len() || bytes.get(i + 1).is_some_and(|c| !c.is_ascii_alphanumeric());
            if i < bytes.len() && matches!(bytes[i], b'b' | b'm' | b'k' | b't') && unit_ends {
                found = parse_params(&lower[start..=i]).or(found);
            }
        } else {
            i += 1;
        }
    }
    found
}

/// Parameters from a size the server writes (`8.0B`, `350M`, `1.5b`).
pub fn parse_params(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()?.to_ascii_uppercase() {
        'B' => (&s[..s.len() - 1], 1e9),
        'M' => (&s[..s.len() - 1], 1e6),
        'K' => (&s[..s.len() - 1], 1e3),
        'T' => (&s[..s.len() - 1], 1e12),
        _ => (s, 1.0),
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(|v| v * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_sizes_read_as_numbers() {
        assert_eq!(parse_params("8.0B"), Some(8e9));
        assert_eq!(parse_params("350M"), Some(3.5e8));
        assert_eq!(parse_params("1.5b"), Some(1.5e9));
        assert_eq!(parse_params("lots"), None);
        assert_eq!(params_from_name("llama3.2:3b"), Some(3e9));
        assert_eq!(params_from_name("qwen2.5-7b-instruct"), Some(7e9));
        assert_eq!(params_from_name("m-200m"), Some(2e8));
        assert_eq!(params_from_name("m-25m"), Some(2.5e7));
        assert_eq!(params_from_name("Mistral-7B-Instruct-v0.3"), Some(7e9));
        assert_eq!(params_from_name("gpt-4o-mini"), None);
        assert_eq!(params_from_name("llama3"), None);
    }

    #[test]
    fn client_rates_count_tokens_after_the_first() {
        let t = Timed {
            token_times: (0..11).map(|i| Duration::from_millis(100 + i * 50)).collect(),
            report: ServerReport {
                output_tokens: Some(11),
                ..Default::default()
            },
            ..Default::default()
        };
        // 10 tokens in 0.5 s after the first.
        assert_eq!(t.client_decode_rate(), Some(20.0));
        assert_eq!(t.tokens(), (11, false));
        assert_eq!(t.gaps().count(), 10);
        let untold = Timed {
            token_times: vec![Duration::ZERO, Duration::from_millis(100)],
            ..Default::default()
        };
        assert_eq!(untold.tokens(), (2, true));
    }

    #[test]
    fn error_bodies_of_both_apis_are_read() {
        assert_eq!(message_of(br#"{"error":"model 'x' not found"}"#), "model 'x' not found");
        assert_eq!(
            message_of(br#"{"error":{"message":"The model `x` does not exist.","type":"invalid_request_error"}}"#),
            "The model `x` does not exist."
        );
        assert_eq!(message_of(b"Bad Gateway"), "Bad Gateway");
    }
}
