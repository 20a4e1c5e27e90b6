//! The `[load]` table of a profile and its `[[load.request]]` mix, read
//! into a [`LoadSpec`]; `[scenarios.*]` are read by [`super::scenarios`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::load::{
    At, BodySource, DEFAULT_GRACEFUL_STOP, DEFAULT_MAX_IN_FLIGHT, DEFAULT_STREAM_TIMEOUT, DEFAULT_TIMEOUT, LoadSpec,
    ModelSpec, RequestSpec, parse_think_time,
};
use super::profile::LoadedProfile;
use super::units::parse_duration;
use crate::load::plan::{Stage, ThinkTime};
use crate::load::stream::StreamKind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadTable {
    pub base_url: Spanned<String>,
    pub users: Option<Spanned<u64>>,
    pub spawn_rate: Option<Spanned<f64>>,
    pub think_time: Option<Spanned<String>>,
    pub iterations: Option<Spanned<u64>>,
    pub rate: Option<Spanned<f64>>,
    pub stages: Option<Vec<Spanned<StageTable>>>,
    pub start_rate: Option<f64>,
    #[serde(default)]
    pub poisson: bool,
    pub max_in_flight: Option<Spanned<u64>>,
    pub warmup: Option<Spanned<String>>,
    pub duration: Option<Spanned<String>>,
    pub total_requests: Option<Spanned<u64>>,
    pub timeout: Option<Spanned<String>>,
    pub stream_timeout: Option<Spanned<String>>,
    pub graceful_stop: Option<Spanned<String>>,
    #[serde(default)]
    pub http2: bool,
    pub h2_streams: Option<Spanned<u64>>,
    #[serde(default)]
    pub insecure: bool,
    pub latency_correction: Option<bool>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub request: Vec<Spanned<RequestTable>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageTable {
    /// Hold this rate for the stage.
    pub rate: Option<f64>,
    /// Ramp linearly from the previous rate to this one.
    pub target: Option<f64>,
    pub duration: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestTable {
    pub name: Option<Spanned<String>>,
    pub weight: Option<Spanned<u32>>,
    pub method: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub body: Option<Spanned<String>>,
    pub json: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub stream: StreamKind,
    pub expect_status: Option<Spanned<StatusCodes>>,
    pub expect_body: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StatusCodes {
    One(u16),
    Many(Vec<u16>),
}

impl LoadedProfile {
    /// The endpoint names the profile gives: its `[[load.request]]` names
    /// (a request without a name is `request<i>`), or its scenarios' steps
    /// as `SCENARIO.STEP` (a step without a name is `step<i>`).
    pub fn endpoint_names(&self) -> Vec<String> {
        if let Some(scenarios) = &self.profile.scenarios {
            let mut named: Vec<_> = scenarios.get_ref().iter().collect();
            named.sort_by_key(|(_, t)| t.span().start);
            let mut out = Vec::new();
            for (name, t) in named {
                let t = t.get_ref();
                let on_start = t.on_start.iter().enumerate().map(|(i, s)| (format!("on_start{i}"), s));
                let steps = t.steps.iter().enumerate().map(|(i, s)| (format!("step{i}"), s));
                for (default, s) in on_start.chain(steps) {
                    let step = s.get_ref().name.as_ref().map_or(default, |n| n.get_ref().clone());
                    out.push(format!("{name}.{step}"));
                }
            }
            return out;
        }
        let Some(load) = &self.profile.load else {
            return Vec::new();
        };
        load.get_ref()
            .request
            .iter()
            .enumerate()
            .map(|(i, r)| {
                r.get_ref()
                    .name
                    .as_ref()
                    .map_or(format!("request{i}"), |n| n.get_ref().clone())
            })
            .collect()
    }

    /// The names of the `[scenarios.*]` tables, in the profile's order.
    pub fn scenario_names(&self) -> Vec<String> {
        let Some(scenarios) = &self.profile.scenarios else {
            return Vec::new();
        };
        let mut named: Vec<_> = scenarios.get_ref().iter().collect();
        named.sort_by_key(|(_, t)| t.span().start);
        named.into_iter().map(|(n, _)| n.clone()).collect()
    }

    /// The `[load]` tables as a [`LoadSpec`].
    pub fn load_spec(&self, worker: (u32, u32)) -> Result<LoadSpec, String> {
        let Some(load) = &self.profile.load else {
            return Err(format!(
                "{}: the profile has no [load] table; add one with base_url and at least one [[load.request]]",
                self.path.display()
            ));
        };
        let span = load.span();
        let l = load.get_ref();
        let dur = |v: &Option<Spanned<String>>, key: &str| -> Result<Option<Duration>, String> {
            v.as_ref()
                .map(|s| parse_duration(s.get_ref()).map_err(|e| format!("{}: {e}", self.at(s.span(), key))))
                .transpose()
        };
        let duration = self.positive_duration(&l.duration, "load.duration")?;
        let scenarios = self.scenario_specs(load)?;
        let model = self.model(l, span.clone(), duration)?;
        let mut vars = BTreeMap::new();
        for (k, v) in &self.profile.vars {
            vars.insert(
                k.clone(),
                var_list(v.get_ref()).map_err(|e| format!("{}: {e}", self.at(v.span(), &format!("vars.{k}"))))?,
            );
        }
        let mut requests = Vec::new();
        for (i, r) in l.request.iter().enumerate() {
            let key = format!("load.request[{i}]");
            requests.push(self.request(&key, r.span(), r.get_ref(), &format!("request{i}"), &l.headers)?);
        }
        Ok(LoadSpec {
            table_at: self.at(span.clone(), "load"),
            base_url: At::new(
                l.base_url.get_ref().clone(),
                self.at(l.base_url.span(), "load.base_url"),
            ),
            requests,
            scenarios,
            model,
            duration,
            warmup: match &l.warmup {
                Some(w) => At::new(
                    parse_duration(w.get_ref()).map_err(|e| format!("{}: {e}", self.at(w.span(), "load.warmup")))?,
                    self.at(w.span(), "load.warmup"),
                ),
                None => At::new(Duration::ZERO, "load.warmup"),
            },
            max_requests: l
                .total_requests
                .as_ref()
                .map(|n| At::new(*n.get_ref(), self.at(n.span(), "load.total_requests"))),
            timeout: self
                .positive_duration(&l.timeout, "load.timeout")?
                .unwrap_or(DEFAULT_TIMEOUT),
            stream_timeout: Some(
                self.positive_duration(&l.stream_timeout, "load.stream_timeout")?
                    .unwrap_or(DEFAULT_STREAM_TIMEOUT),
            ),
            graceful_stop: dur(&l.graceful_stop, "load.graceful_stop")?.unwrap_or(DEFAULT_GRACEFUL_STOP),
            http2: l.http2,
            h2_streams: match &l.h2_streams {
                Some(n) => At::new(*n.get_ref(), self.at(n.span(), "load.h2_streams")),
                None => At::new(1, "load.h2_streams"),
            },
            insecure: l.insecure,
            latency_correction: l.latency_correction.unwrap_or(true),
            vars,
            base_dir: self.path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            worker,
        })
    }

    fn model(
        &self,
        l: &LoadTable,
        span: std::ops::Range<usize>,
        duration: Option<Duration>,
    ) -> Result<ModelSpec, String> {
        let open = l.rate.is_some() || l.stages.is_some();
        let closed_keys =
            l.users.is_some() || l.spawn_rate.is_some() || l.think_time.is_some() || l.iterations.is_some();
        if open && closed_keys {
            return Err(format!(
                "{}: [load] mixes the open model (rate, stages) with the closed model (users, spawn_rate, think_time, iterations); keep one",
                self.at(span, "load")
            ));
        }
        if l.rate.is_some() && l.stages.is_some() {
            return Err(format!(
                "{}: give either rate or stages, not both",
                self.at(span, "load")
            ));
        }
        if !open {
            let think = match &l.think_time {
                Some(t) => parse_think_time(t.get_ref())
                    .map_err(|e| format!("{}: {e}", self.at(t.span(), "load.think_time")))?,
                None => ThinkTime::default(),
            };
            return Ok(ModelSpec::Closed {
                users: match &l.users {
                    Some(u) => At::new(*u.get_ref(), self.at(u.span(), "load.users")),
                    None => At::new(10, self.at(span.clone(), "load.users")),
                },
                spawn_rate: l
                    .spawn_rate
                    .as_ref()
                    .map(|r| At::new(*r.get_ref(), self.at(r.span(), "load.spawn_rate"))),
                think,
                iterations: l
                    .iterations
                    .as_ref()
                    .map(|n| At::new(*n.get_ref(), self.at(n.span(), "load.iterations"))),
            });
        }
        let stages = match (&l.rate, &l.stages) {
            (Some(r), _) => {
                vec![At::new(
                    Stage {
                        from: *r.get_ref(),
                        to: *r.get_ref(),
                        duration,
                    },
                    self.at(r.span(), "load.rate"),
                )]
            }
            (None, Some(stages)) => self.stages(stages, l.start_rate.unwrap_or(0.0), "load.stages", span.clone())?,
            (None, None) => unreachable!("open model has rate or stages"),
        };
        Ok(ModelSpec::Open {
            stages,
            poisson: l.poisson,
            max_in_flight: match &l.max_in_flight {
                Some(m) => At::new(*m.get_ref(), self.at(m.span(), "load.max_in_flight")),
                None => At::new(DEFAULT_MAX_IN_FLIGHT, "load.max_in_flight"),
            },
        })
    }

    /// `stages = [...]`: each holds (`rate`) or ramps from the level
    /// before it to `target`, the first from `start`.
    pub(crate) fn stages(
        &self,
        stages: &[Spanned<StageTable>],
        start: f64,
        key: &str,
        span: std::ops::Range<usize>,
    ) -> Result<Vec<At<Stage>>, String> {
        let mut prev = start;
        let mut out = Vec::new();
        for (i, s) in stages.iter().enumerate() {
            let at = self.at(s.span(), &format!("{key}[{i}]"));
            let st = s.get_ref();
            let d = parse_duration(&st.duration).map_err(|e| format!("{at}.duration: {e}"))?;
            let (from, to) = match (st.rate, st.target) {
                (Some(r), None) => (r, r),
                (None, Some(t)) => (prev, t),
                _ => {
                    return Err(format!(
                        "{at}: give rate (hold it for the stage) or target (ramp to it from the previous level), e.g. {{ target = 50, duration = \"5m\" }}"
                    ));
                }
            };
            prev = to;
            out.push(At::new(
                Stage {
                    from,
                    to,
                    duration: Some(d),
                },
                at,
            ));
        }
        if out.is_empty() {
            return Err(format!("{}: stages is empty", self.at(span, key)));
        }
        Ok(out)
    }

    /// A request's table (`key` names it in errors); `default_name` when it has none.
    pub(crate) fn request(
        &self,
        key: &str,
        span: std::ops::Range<usize>,
        t: &RequestTable,
        default_name: &str,
        common: &BTreeMap<String, Spanned<String>>,
    ) -> Result<RequestSpec, String> {
        let at = |span: std::ops::Range<usize>, field: &str| self.at(span, &format!("{key}.{field}"));
        if t.body.is_some() && t.json.is_some() {
            return Err(format!("{}: give body or json, not both", self.at(span.clone(), key)));
        }
        let path = match &t.path {
            Some(p) => At::new(p.get_ref().clone(), at(p.span(), "path")),
            None => At::new("/".to_string(), self.at(span.clone(), key)),
        };
        let method_default = if t.body.is_some() || t.json.is_some() {
            "POST"
        } else {
            "GET"
        };
        let headers = common
            .iter()
            .filter(|(k, _)| !t.headers.keys().any(|o| o.eq_ignore_ascii_case(k)))
            .map(|(k, v)| {
                At::new(
                    (k.clone(), v.get_ref().clone()),
                    self.at(v.span(), &format!("load.headers.{k}")),
                )
            })
            .chain(
                t.headers
                    .iter()
                    .map(|(k, v)| At::new((k.clone(), v.get_ref().clone()), at(v.span(), &format!("headers.{k}")))),
            )
            .collect();
        let body = match (&t.body, &t.json) {
            (Some(b), _) => Some(At::new(BodySource::Text(b.get_ref().clone()), at(b.span(), "body"))),
            (None, Some(j)) => {
                let v = serde_json::to_value(j.get_ref()).map_err(|e| format!("{}: {e}", at(j.span(), "json")))?;
                Some(At::new(BodySource::Json(v), at(j.span(), "json")))
            }
            _ => None,
        };
        Ok(RequestSpec {
            name: match &t.name {
                Some(n) => At::new(n.get_ref().clone(), at(n.span(), "name")),
                None => At::new(default_name.to_string(), self.at(span.clone(), key)),
            },
            weight: match &t.weight {
                Some(w) => At::new(*w.get_ref(), at(w.span(), "weight")),
                None => At::new(1, key),
            },
            method: match &t.method {
                Some(m) => At::new(m.get_ref().clone(), at(m.span(), "method")),
                None => At::new(method_default.to_string(), key),
            },
            path,
            headers,
            body,
            stream: t.stream,
            expect_status: t.expect_status.as_ref().map(|s| {
                let codes = match s.get_ref() {
                    StatusCodes::One(c) => vec![*c],
                    StatusCodes::Many(v) => v.clone(),
                };
                At::new(codes, at(s.span(), "expect_status"))
            }),
            expect_body: t
                .expect_body
                .as_ref()
                .map(|b| At::new(b.get_ref().clone(), at(b.span(), "expect_body"))),
        })
    }
}

fn var_list(v: &toml::Value) -> Result<Vec<String>, String> {
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    };
    match v {
        toml::Value::Array(items) => items
            .iter()
            .map(|i| scalar(i).ok_or_else(|| "list items must be strings or numbers".to_string()))
            .collect(),
        other => scalar(other)
            .map(|s| vec![s])
            .ok_or_else(|| "expected a list of strings, e.g. [\"alice\", \"bob\"]".into()),
    }
}
