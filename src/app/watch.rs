//! `--listen`, `--remote-write` and `--notify` for `run` and `load`: the
//! live state the run feeds, the server and the pusher that read it, and
//! the verdict posted at the end. Checked before the run starts (a bad
//! address or URL is exit 2, a port in use exit 3); what goes wrong after
//! the run (a webhook that fails) is a warning, never a change of the
//! exit code.

use std::io::Write;
use std::time::Duration;

use anyhow::anyhow;
use serde_json::json;

use crate::cli::WatchArgs;
use crate::error::Error;
use crate::gate::{Slo, SloResult};
use crate::live::Live;
use crate::live::remote_write::Pusher;
use crate::live::server::{ListenError, Server};

/// How long `/metrics` is served after the run, so that Prometheus takes
/// the final values.
pub const LINGER: Duration = Duration::from_secs(15);

/// What watches a run.
pub struct Watchers {
    pub live: Option<Live>,
    server: Option<Server>,
    pusher: Option<Pusher>,
    notify: Option<String>,
}

fn url(flag: &str, u: &str) -> Result<String, Error> {
    crate::load::Origin::parse(u).map(|_| u.to_string()).map_err(|e| {
        Error::bad_input(anyhow!(
            "{flag} {}: not a URL loadprof can send to ({e}); write it as http://HOST:PORT/PATH",
            crate::redact::url(u)
        ))
    })
}

impl Watchers {
    /// Checks the flags and starts what they ask for. `endpoints` are the
    /// load's endpoint names, in the engine's order.
    pub fn start(
        args: &WatchArgs,
        name: &str,
        endpoints: Vec<String>,
        target_rate: Option<f64>,
        slos: Vec<Slo>,
    ) -> Result<Watchers, Error> {
        let notify = args.notify.as_deref().map(|u| url("--notify", u)).transpose()?;
        let remote = args
            .remote_write
            .as_deref()
            .map(|u| url("--remote-write", u))
            .transpose()?;
        let interval = match &remote {
            Some(_) => {
                let i = crate::config::units::parse_duration(&args.remote_write_interval)
                    .map_err(|e| Error::bad_input(anyhow!("--remote-write-interval: {e}")))?;
                if !(Duration::from_secs(1)..=Duration::from_secs(300)).contains(&i) {
                    return Err(Error::bad_input(anyhow!(
                        "--remote-write-interval {}: out of range; give 1s to 5m",
                        args.remote_write_interval
                    )));
                }
                i
            }
            None => Duration::ZERO,
        };
        let addr = args
            .listen
            .as_deref()
            .map(crate::live::server::parse_addr)
            .transpose()
            .map_err(|e| Error::bad_input(anyhow!(e)))?;
        if addr.is_none() && remote.is_none() {
            return Ok(Watchers {
                live: None,
                server: None,
                pusher: None,
                notify,
            });
        }
        let live = Live::new(name, endpoints, target_rate, slos);
        let server = addr
            .map(|a| Server::start(a, live.clone()))
            .transpose()
            .map_err(|e| match e {
                ListenError::BadAddress(..) => Error::bad_input(anyhow!(e)),
                ListenError::Bind { .. } => Error::cannot_run(anyhow!(e)),
            })?;
        let pusher = remote
            .map(|u| Pusher::start(&u, interval, live.clone()))
            .transpose()
            .map_err(|e| Error::cannot_run(anyhow!(e)))?;
        Ok(Watchers {
            live: Some(live),
            server,
            pusher,
            notify,
        })
    }

    /// Where `/metrics` is served, for the person starting the run.
    pub fn announce(&self, to: &mut dyn Write) -> std::io::Result<()> {
        if let Some(s) = &self.server {
            writeln!(to, "live: http://{}/ (metrics at /metrics)", s.addr)?;
        }
        Ok(())
    }

    /// The run has ended: final values pushed, the verdict posted, and
    /// `/metrics` served on for [`LINGER`] unless the run was interrupted
    /// (Ctrl-C ends the wait too). Messages go to `to`.
    pub fn finish(self, end: &Ending<'_>, interrupted: bool, to: &mut dyn Write) -> std::io::Result<()> {
        if let Some(live) = &self.live {
            live.verdicts(end.slo);
            live.end(end.outcome);
        }
        if let Some(p) = self.pusher {
            let stats = p.finish();
            if let Some(e) = &stats.last_error {
                writeln!(
                    to,
                    "loadprof: warning: remote write: {} of {} pushes failed (last: {})",
                    stats.failures,
                    stats.pushes,
                    crate::escape::terminal(e)
                )?;
            }
        }
        if let Some(u) = &self.notify
            && let Err(e) = post(u, end)
        {
            writeln!(
                to,
                "loadprof: warning: --notify: the verdict was not delivered: {}",
                crate::escape::terminal(&e)
            )?;
        }
        if let Some(s) = self.server {
            if interrupted {
                return Ok(());
            }
            writeln!(
                to,
                "live: serving http://{}/metrics for {}s more so a scraper takes the final values (Ctrl-C ends it)",
                s.addr,
                LINGER.as_secs()
            )?;
            to.flush()?;
            let early = crate::cancel::StopToken::new();
            // Without signal handlers the wait still ends after LINGER.
            let _ = crate::cancel::stop_on_signals(early.clone());
            s.linger(LINGER, &early);
        }
        Ok(())
    }
}

/// How a run ended, for the watchers.
pub struct Ending<'a> {
    pub name: &'a str,
    /// `Some`: passed or failed; `None`: no verdict (a load without SLOs,
    /// or a run that did not complete), when the outcome says what happened.
    pub passed: Option<bool>,
    pub outcome: &'a str,
    pub slo: &'a [SloResult],
    pub requests: Option<u64>,
    pub error_rate: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// The webhook's body: a one-line `text` and the verdict's parts.
pub fn message(end: &Ending<'_>) -> serde_json::Value {
    let (verdict, word) = match end.passed {
        Some(true) => ("passed", "PASSED".to_string()),
        Some(false) => ("failed", "FAILED".to_string()),
        None => ("none", end.outcome.to_string()),
    };
    let failed: Vec<&SloResult> = end.slo.iter().filter(|s| !s.pass).collect();
    let mut text = format!("loadprof {}: {word}", end.name);
    if !failed.is_empty() {
        let parts: Vec<String> = failed.iter().map(|s| s.described()).collect();
        text.push_str(&format!("; failed: {}", parts.join(", ")));
    }
    if let Some(n) = end.requests {
        text.push_str(&format!("; {n} requests"));
    }
    if let Some(p) = end.p95_ms {
        text.push_str(&format!(", p95 {p:.1} ms"));
    }
    if let Some(e) = end.error_rate {
        text.push_str(&format!(", {:.2}% errors", e * 100.0));
    }
    // One line, whatever the names held.
    let text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    json!({
        "text": text,
        "name": end.name,
        "verdict": verdict,
        "outcome": end.outcome,
        "slo": end.slo,
        "failed": failed.iter().map(|s| &s.name).collect::<Vec<_>>(),
        "requests": end.requests,
        "p95_ms": end.p95_ms,
        "error_rate": end.error_rate,
    })
}

/// Posts the verdict; a 2xx answer within 10 s is delivered.
fn post(url: &str, end: &Ending<'_>) -> Result<(), String> {
    let body = message(end).to_string().into_bytes();
    let answer = crate::http::post(
        url,
        body,
        "application/json",
        &http::HeaderMap::new(),
        0,
        Duration::from_secs(10),
    )
    .map_err(|e| e.to_string())?;
    if (200..300).contains(&answer.status) {
        Ok(())
    } else {
        Err(format!("{} answered {}", crate::redact::url(url), answer.status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_one_line_naming_the_failed_slos() {
        let slo = vec![
            SloResult {
                name: "ask.p95".into(),
                expr: "< 2s".into(),
                observed: Some(2500.0),
                unit: "ms".into(),
                pass: false,
            },
            SloResult {
                name: "all.error_rate".into(),
                expr: "< 1%".into(),
                observed: Some(0.001),
                unit: "ratio".into(),
                pass: true,
            },
        ];
        let m = message(&Ending {
            name: "nightly\nrun",
            passed: Some(false),
            outcome: "completed",
            slo: &slo,
            requests: Some(1200),
            error_rate: Some(0.001),
            p95_ms: Some(2500.0),
        });
        let text = m["text"].as_str().unwrap();
        assert_eq!(
            text,
            "loadprof nightly run: FAILED; failed: ask.p95 < 2s (observed 2500.0 ms); 1200 requests, p95 2500.0 ms, 0.10% errors"
        );
        assert_eq!(m["verdict"], "failed");
        assert_eq!(m["failed"], json!(["ask.p95"]));
    }
}
