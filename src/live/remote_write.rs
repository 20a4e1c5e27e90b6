//! `--remote-write URL`: the run's series pushed to a Prometheus
//! remote-write receiver (protocol 1.0: a protobuf `WriteRequest`, raw
//! snappy, `Content-Encoding: snappy`, `X-Prometheus-Remote-Write-Version:
//! 0.1.0`), every interval while the run lasts and once more with the final
//! values. Labels are sorted with `__name__` among them; a 4xx answer is
//! not retried (the receiver refused those samples), a 5xx or a broken
//! connection waits for the next push. A push never holds up the run: it
//! runs on its own thread, with a timeout.

use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::{Family, Kind, Live, Reading};
use crate::cancel::{StopReason, StopToken};

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The series of `families` at `timestamp_ms`, as remote write sends them.
pub fn series(run_id: &str, families: &[Family], timestamp_ms: i64) -> Vec<TimeSeries> {
    let mut out = Vec::new();
    let mut push = |name: String, labels: &[(&str, String)], extra: Option<(&str, String)>, value: f64| {
        let mut ls: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label {
                name: k.to_string(),
                value: v.clone(),
            })
            .chain(extra.map(|(k, v)| Label {
                name: k.to_string(),
                value: v,
            }))
            .chain([
                Label {
                    name: "__name__".into(),
                    value: name,
                },
                Label {
                    name: "run_id".into(),
                    value: run_id.to_string(),
                },
            ])
            .collect();
        ls.sort_by(|a, b| a.name.cmp(&b.name));
        out.push(TimeSeries {
            labels: ls,
            samples: vec![Sample {
                value,
                timestamp: timestamp_ms,
            }],
        });
    };
    for f in families {
        for (labels, reading) in &f.samples {
            match reading {
                Reading::Number(v) => {
                    let suffix = match f.kind {
                        Kind::Counter => "_total",
                        Kind::Info => "_info",
                        _ => "",
                    };
                    push(format!("{}{suffix}", f.name), labels, None, *v);
                }
                Reading::Histogram(h) => {
                    for (bound, n) in &h.buckets {
                        let le = crate::metrics::exposition::format_value(*bound);
                        push(format!("{}_bucket", f.name), labels, Some(("le", le)), *n as f64);
                    }
                    push(format!("{}_count", f.name), labels, None, h.count as f64);
                    push(format!("{}_sum", f.name), labels, None, h.sum);
                }
            }
        }
    }
    out
}

/// The body of one push: the request, protobuf-encoded, then snappy.
pub fn body(series: Vec<TimeSeries>) -> Result<Vec<u8>, String> {
    use prost::Message;
    let raw = WriteRequest { timeseries: series }.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .map_err(|e| format!("cannot compress the push: {e}"))
}

/// How the pushes went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PushStats {
    pub pushes: u64,
    pub failures: u64,
    pub last_error: Option<String>,
}

/// Pushes the run's series every interval on a thread of its own.
pub struct Pusher {
    url: String,
    live: Live,
    stop: StopToken,
    stats: std::sync::Arc<Mutex<PushStats>>,
    thread: Option<JoinHandle<()>>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One push of what `live` holds now.
fn push(url: &str, live: &Live) -> Result<(), String> {
    let payload = {
        let s = live.lock();
        body(series(&s.run_id, &s.families(), now_ms()))?
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::CONTENT_ENCODING, http::HeaderValue::from_static("snappy"));
    headers.insert(
        "x-prometheus-remote-write-version",
        http::HeaderValue::from_static("0.1.0"),
    );
    let answer = crate::http::post(
        url,
        payload,
        "application/x-protobuf",
        &headers,
        4096,
        Duration::from_secs(10),
    )
    .map_err(|e| e.to_string())?;
    if (200..300).contains(&answer.status) {
        Ok(())
    } else {
        Err(format!(
            "{} answered {}: {}",
            crate::redact::url(url),
            answer.status,
            crate::escape::terminal(String::from_utf8_lossy(&answer.body).trim())
        ))
    }
}

impl Pusher {
    /// Starts pushing to `url` every `interval`.
    pub fn start(url: &str, interval: Duration, live: Live) -> Result<Pusher, String> {
        let stop = StopToken::new();
        let stats = std::sync::Arc::new(Mutex::new(PushStats::default()));
        let (u, l, s, st) = (url.to_string(), live.clone(), stop.clone(), stats.clone());
        let thread = std::thread::Builder::new()
            .name("loadprof-remote-write".into())
            .spawn(move || {
                let mut next = Instant::now() + interval;
                while s.wait_until(next).is_none() {
                    let r = push(&u, &l);
                    let mut stats = st.lock().unwrap_or_else(|e| e.into_inner());
                    stats.pushes += 1;
                    if let Err(e) = r {
                        stats.failures += 1;
                        stats.last_error = Some(e);
                    }
                    next += interval;
                }
            })
            .map_err(|e| format!("cannot start the remote-write thread: {e}"))?;
        Ok(Pusher {
            url: url.to_string(),
            live,
            stop,
            stats,
            thread: Some(thread),
        })
    }

    /// Stops the periodic pushes and pushes the final values.
    pub fn finish(mut self) -> PushStats {
        self.stop.stop(StopReason::Finished);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let r = push(&self.url, &self.live);
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone();
        stats.pushes += 1;
        if let Err(e) = r {
            stats.failures += 1;
            stats.last_error = Some(e);
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::HistValue;
    use prost::Message;

    #[test]
    fn series_are_named_and_labelled_as_remote_write_wants_and_round_trip() {
        let families = vec![
            Family {
                name: "loadprof_requests",
                help: "",
                unit: "",
                kind: Kind::Counter,
                samples: vec![(vec![("endpoint", "a".into())], Reading::Number(3.0))],
            },
            Family {
                name: "loadprof_request_duration_seconds",
                help: "",
                unit: "seconds",
                kind: Kind::Histogram,
                samples: vec![(
                    vec![("endpoint", "a".into())],
                    Reading::Histogram(HistValue {
                        buckets: vec![(0.1, 1), (f64::INFINITY, 2)],
                        sum: 0.3,
                        count: 2,
                    }),
                )],
            },
        ];
        let s = series("r", &families, 1_700_000_000_000);
        assert_eq!(s.len(), 5);
        let names: Vec<&str> = s[0].labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "endpoint", "run_id"]);
        assert_eq!(s[0].labels[0].value, "loadprof_requests_total");
        assert!(
            s.iter()
                .any(|t| t.labels.iter().any(|l| l.name == "le" && l.value == "+Inf"))
        );
        let packed = body(s.clone()).unwrap();
        let raw = snap::raw::Decoder::new().decompress_vec(&packed).unwrap();
        assert_eq!(WriteRequest::decode(raw.as_slice()).unwrap().timeseries, s);
    }
}
