//! `[scenarios.NAME]` tables: named load shapes that run side by side,
//! each with its own executor and its steps (DESIGN.md "Journeys"). This
//! reads them into [`ScenarioSpec`]s, every value with where it was
//! written; [`super::load::build`] compiles them with the rest.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::load::{At, DEFAULT_MAX_IN_FLIGHT, ModelSpec, RequestSpec, parse_think_time};
use super::load_table::{LoadTable, RequestTable, StageTable, StatusCodes};
use super::profile::LoadedProfile;
use super::units::parse_duration;
use crate::load::journey::{Session, Test, check_pointer};
use crate::load::plan::{Stage, ThinkTime};
use crate::load::stream::StreamKind;
use crate::load::template::{HELPERS, is_name};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioTable {
    pub executor: Spanned<String>,
    pub users: Option<Spanned<u64>>,
    pub iterations: Option<Spanned<u64>>,
    pub rate: Option<Spanned<f64>>,
    pub start_rate: Option<Spanned<f64>>,
    pub start_users: Option<Spanned<u64>>,
    pub stages: Option<Spanned<Vec<Spanned<StageTable>>>>,
    pub duration: Option<Spanned<String>>,
    pub think_time: Option<Spanned<String>>,
    pub spawn_rate: Option<Spanned<f64>>,
    pub max_in_flight: Option<Spanned<u64>>,
    pub poisson: Option<Spanned<bool>>,
    pub start_time: Option<Spanned<String>>,
    pub graceful_stop: Option<Spanned<String>>,
    pub session: Option<Spanned<String>>,
    pub cookies: Option<bool>,
    #[serde(default)]
    pub on_start: Vec<Spanned<StepTable>>,
    #[serde(default)]
    pub steps: Vec<Spanned<StepTable>>,
}

/// A step: every key of a `[[load.request]]` (written out again, as
/// serde's `flatten` cannot be combined with `deny_unknown_fields`, which
/// gives unknown keys their "did you mean" error), and the journey's own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepTable {
    pub name: Option<Spanned<String>>,
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
    /// Steps run in order: a weight is a mistake, named in its error.
    pub weight: Option<Spanned<u32>>,
    #[serde(default)]
    pub capture: BTreeMap<String, Spanned<SourceTable>>,
    pub required: Option<bool>,
    pub poll: Option<Spanned<PollTable>>,
    pub think_time: Option<Spanned<String>>,
}

/// Where a capture or a condition reads: exactly one of `json`, `regex`
/// (with `group`), `header`; a condition adds its test.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceTable {
    pub json: Option<String>,
    pub regex: Option<String>,
    pub group: Option<usize>,
    pub header: Option<String>,
    pub equals: Option<toml::Value>,
    #[serde(rename = "in")]
    pub one_of: Option<Vec<toml::Value>>,
    pub exists: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollTable {
    pub until: Spanned<SourceTable>,
    pub fail_if: Option<Spanned<SourceTable>>,
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub max_attempts: Option<Spanned<u32>>,
}

/// Where a value is read, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    Json(String),
    Regex(String, usize),
    Header(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConditionSpec {
    pub source: SourceSpec,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PollSpec {
    pub until: At<ConditionSpec>,
    pub fail_if: Option<At<ConditionSpec>>,
    pub interval: Duration,
    pub timeout: Duration,
    pub max_attempts: Option<u32>,
}

/// One step, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSpec {
    pub request: RequestSpec,
    pub captures: Vec<(At<String>, At<SourceSpec>)>,
    pub required: bool,
    pub poll: Option<PollSpec>,
    pub think: Option<ThinkTime>,
}

/// One scenario, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioSpec {
    pub name: At<String>,
    pub executor: At<String>,
    pub model: ModelSpec,
    /// `shared-iterations`: the model's iterations are shared by all users.
    pub shared_iterations: bool,
    /// `ramping-users`: users over time.
    pub ramp: Option<Vec<At<Stage>>>,
    pub start: Duration,
    pub duration: Option<Duration>,
    pub graceful_stop: Option<Duration>,
    pub session: Session,
    pub cookies: bool,
    pub on_start: Vec<StepSpec>,
    pub steps: Vec<StepSpec>,
}

/// The executors, and the keys each takes besides those every scenario takes.
pub const EXECUTORS: [(&str, &[&str]); 6] = [
    ("constant-users", &["users", "duration", "think_time", "spawn_rate"]),
    ("ramping-users", &["start_users", "stages", "think_time"]),
    (
        "per-user-iterations",
        &["users", "iterations", "duration", "think_time", "spawn_rate"],
    ),
    (
        "shared-iterations",
        &["users", "iterations", "duration", "think_time", "spawn_rate"],
    ),
    (
        "constant-arrival-rate",
        &["rate", "duration", "max_in_flight", "poisson"],
    ),
    (
        "ramping-arrival-rate",
        &["start_rate", "stages", "max_in_flight", "poisson"],
    ),
];

/// Step names that would read as a scenario's own metrics.
const RESERVED_STEPS: [&str; 3] = ["flow", "iterations", "iteration_fail_rate"];

/// `[load]` keys that shape the load: in a profile with scenarios, each
/// scenario says these itself.
fn load_shape_keys(l: &LoadTable) -> Vec<(&'static str, Option<std::ops::Range<usize>>)> {
    let mut keys = Vec::new();
    let mut add = |name: &'static str, span: Option<std::ops::Range<usize>>| keys.push((name, span));
    if let Some(v) = &l.users {
        add("users", Some(v.span()));
    }
    if let Some(v) = &l.rate {
        add("rate", Some(v.span()));
    }
    if let Some(v) = &l.iterations {
        add("iterations", Some(v.span()));
    }
    if let Some(v) = &l.spawn_rate {
        add("spawn_rate", Some(v.span()));
    }
    if let Some(v) = &l.think_time {
        add("think_time", Some(v.span()));
    }
    if let Some(v) = &l.max_in_flight {
        add("max_in_flight", Some(v.span()));
    }
    if let Some(v) = &l.total_requests {
        add("total_requests", Some(v.span()));
    }
    if l.stages.is_some() {
        add("stages", None);
    }
    if l.start_rate.is_some() {
        add("start_rate", None);
    }
    if l.poisson {
        add("poisson", None);
    }
    keys
}

impl LoadedProfile {
    /// The `[scenarios.*]` tables, in the order the profile writes them.
    pub fn scenario_specs(&self, load: &Spanned<LoadTable>) -> Result<Vec<ScenarioSpec>, String> {
        let Some(table) = &self.profile.scenarios else {
            return Ok(Vec::new());
        };
        let l = load.get_ref();
        if let Some(r) = l.request.first() {
            return Err(format!(
                "{}: a profile has either [[load.request]] or [scenarios.*], not both; make these requests steps of a scenario",
                self.at(r.span(), "load.request[0]")
            ));
        }
        if let Some((key, span)) = load_shape_keys(l).into_iter().next() {
            return Err(format!(
                "{}: with [scenarios.*], each scenario gives its own load shape; move {key} into the scenarios (e.g. [scenarios.NAME] users = 10)",
                self.at(span.unwrap_or(load.span()), &format!("load.{key}"))
            ));
        }
        let mut named: Vec<(&String, &Spanned<ScenarioTable>)> = table.get_ref().iter().collect();
        if named.is_empty() {
            return Err(format!(
                "{}: [scenarios] is empty; add a [scenarios.NAME] table with an executor and steps",
                self.at(table.span(), "scenarios")
            ));
        }
        named.sort_by_key(|(_, t)| t.span().start);
        let default_duration = self.positive_duration(&l.duration, "load.duration")?;
        named
            .into_iter()
            .map(|(name, t)| self.scenario(name, t, default_duration, &l.headers))
            .collect()
    }

    fn scenario(
        &self,
        name: &str,
        table: &Spanned<ScenarioTable>,
        default_duration: Option<Duration>,
        common: &BTreeMap<String, Spanned<String>>,
    ) -> Result<ScenarioSpec, String> {
        let key = format!("scenarios.{name}");
        let at = |span: std::ops::Range<usize>, field: &str| self.at(span, &format!("{key}.{field}"));
        let t = table.get_ref();
        if !is_name(name) && !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(format!(
                "{}: '{name}' cannot name a scenario; use letters, digits, '_' and '-'",
                self.at(table.span(), &key)
            ));
        }
        let executor = t.executor.get_ref().as_str();
        let Some((_, allowed)) = EXECUTORS.iter().find(|(n, _)| *n == executor) else {
            let names: Vec<&str> = EXECUTORS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "{}: '{executor}' is not an executor; use one of {}",
                at(t.executor.span(), "executor"),
                names.join(", ")
            ));
        };
        let given: [(&str, Option<std::ops::Range<usize>>); 10] = [
            ("users", t.users.as_ref().map(|v| v.span())),
            ("iterations", t.iterations.as_ref().map(|v| v.span())),
            ("rate", t.rate.as_ref().map(|v| v.span())),
            ("start_rate", t.start_rate.as_ref().map(|v| v.span())),
            ("start_users", t.start_users.as_ref().map(|v| v.span())),
            ("stages", t.stages.as_ref().map(|v| v.span())),
            ("duration", t.duration.as_ref().map(|v| v.span())),
            ("think_time", t.think_time.as_ref().map(|v| v.span())),
            ("spawn_rate", t.spawn_rate.as_ref().map(|v| v.span())),
            ("max_in_flight", t.max_in_flight.as_ref().map(|v| v.span())),
        ];
        let poisson_span = t.poisson.as_ref().map(|v| v.span());
        for (k, span) in given.into_iter().chain([("poisson", poisson_span)]) {
            if let Some(span) = span
                && !allowed.contains(&k)
            {
                return Err(format!(
                    "{}: executor '{executor}' does not take {k}; it takes {}",
                    at(span, k),
                    allowed.join(", ")
                ));
            }
        }
        let think = match &t.think_time {
            Some(v) => parse_think_time(v.get_ref()).map_err(|e| format!("{}: {e}", at(v.span(), "think_time")))?,
            None => ThinkTime::default(),
        };
        let duration = self
            .positive_duration(&t.duration, &format!("{key}.duration"))?
            .or(default_duration);
        let users = |default: u64| match &t.users {
            Some(u) => At::new(*u.get_ref(), at(u.span(), "users")),
            None => At::new(default, at(table.span(), "users")),
        };
        let needs = |what: Option<()>, k: &str, example: &str| -> Result<(), String> {
            what.ok_or_else(|| {
                format!(
                    "{}: executor '{executor}' needs {k}, e.g. {example}",
                    self.at(table.span(), &key)
                )
            })
        };
        let stages = |start: f64| -> Result<Vec<At<Stage>>, String> {
            needs(
                t.stages.as_ref().map(|_| ()),
                "stages",
                "stages = [{ target = 20, duration = \"2m\" }]",
            )?;
            let s = t
                .stages
                .as_ref()
                .map(|s| (s.get_ref().as_slice(), s.span()))
                .unwrap_or_default();
            self.stages(s.0, start, &format!("{key}.stages"), s.1)
        };
        let mut ramp = None;
        let model = match executor {
            "constant-users" | "per-user-iterations" | "shared-iterations" => {
                if executor == "constant-users" {
                    needs(
                        duration.map(|_| ()),
                        "duration",
                        "duration = \"5m\" (or duration in [load])",
                    )?;
                } else {
                    needs(t.iterations.as_ref().map(|_| ()), "iterations", "iterations = 30")?;
                }
                ModelSpec::Closed {
                    users: users(1),
                    spawn_rate: t
                        .spawn_rate
                        .as_ref()
                        .map(|r| At::new(*r.get_ref(), at(r.span(), "spawn_rate"))),
                    think,
                    iterations: t
                        .iterations
                        .as_ref()
                        .map(|n| At::new(*n.get_ref(), at(n.span(), "iterations"))),
                }
            }
            "ramping-users" => {
                let start = t.start_users.as_ref().map_or(0, |s| *s.get_ref());
                let plan = stages(start as f64)?;
                let peak = plan
                    .iter()
                    .fold(start as f64, |m, s| m.max(s.value.from).max(s.value.to));
                ramp = Some(plan);
                ModelSpec::Closed {
                    users: At::new(peak.ceil() as u64, self.at(table.span(), &format!("{key}.stages"))),
                    spawn_rate: None,
                    think,
                    iterations: None,
                }
            }
            "constant-arrival-rate" => {
                needs(t.rate.as_ref().map(|_| ()), "rate", "rate = 20 (iterations per second)")?;
                needs(
                    duration.map(|_| ()),
                    "duration",
                    "duration = \"5m\" (or duration in [load])",
                )?;
                let r = t.rate.as_ref().expect("checked above");
                ModelSpec::Open {
                    stages: vec![At::new(
                        Stage {
                            from: *r.get_ref(),
                            to: *r.get_ref(),
                            duration,
                        },
                        at(r.span(), "rate"),
                    )],
                    poisson: t.poisson.as_ref().is_some_and(|p| *p.get_ref()),
                    max_in_flight: self.max_in_flight(t, &key),
                }
            }
            _ => ModelSpec::Open {
                stages: stages(t.start_rate.as_ref().map_or(0.0, |r| *r.get_ref()))?,
                poisson: t.poisson.as_ref().is_some_and(|p| *p.get_ref()),
                max_in_flight: self.max_in_flight(t, &key),
            },
        };
        let session = match &t.session {
            None => Session::User,
            Some(s) => match s.get_ref().as_str() {
                "user" => Session::User,
                "iteration" => Session::Iteration,
                other => {
                    return Err(format!(
                        "{}: '{other}' is not a session; use \"user\" (captures and cookies live as long as the user) or \"iteration\" (reset each iteration)",
                        at(s.span(), "session")
                    ));
                }
            },
        };
        if t.steps.is_empty() {
            return Err(format!(
                "{}: the scenario has no steps; add [[{key}.steps]] with at least a path",
                self.at(table.span(), &key)
            ));
        }
        let mut on_start = Vec::new();
        for (i, s) in t.on_start.iter().enumerate() {
            on_start.push(self.step(&format!("{key}.on_start[{i}]"), s, &format!("on_start{i}"), common)?);
        }
        let mut steps = Vec::new();
        for (i, s) in t.steps.iter().enumerate() {
            steps.push(self.step(&format!("{key}.steps[{i}]"), s, &format!("step{i}"), common)?);
        }
        let mut seen = std::collections::HashSet::new();
        for s in on_start.iter().chain(&steps) {
            let n = &s.request.name;
            if RESERVED_STEPS.contains(&n.value.as_str()) {
                return Err(n.err(format!(
                    "a step cannot be named '{}': {name}.{} names the scenario's own measure",
                    n.value, n.value
                )));
            }
            if !seen.insert(n.value.clone()) {
                return Err(n.err(format!(
                    "two steps of scenario '{name}' are named '{}'; give each its own name",
                    n.value
                )));
            }
        }
        Ok(ScenarioSpec {
            name: At::new(name.to_string(), self.at(table.span(), &key)),
            executor: At::new(executor.to_string(), at(t.executor.span(), "executor")),
            model,
            shared_iterations: executor == "shared-iterations",
            ramp,
            start: match &t.start_time {
                Some(s) => parse_duration(s.get_ref()).map_err(|e| format!("{}: {e}", at(s.span(), "start_time")))?,
                None => Duration::ZERO,
            },
            duration: if matches!(executor, "ramping-users" | "ramping-arrival-rate") {
                None
            } else {
                duration
            },
            graceful_stop: match &t.graceful_stop {
                Some(g) => {
                    Some(parse_duration(g.get_ref()).map_err(|e| format!("{}: {e}", at(g.span(), "graceful_stop")))?)
                }
                None => None,
            },
            session,
            cookies: t.cookies.unwrap_or(true),
            on_start,
            steps,
        })
    }

    fn max_in_flight(&self, t: &ScenarioTable, key: &str) -> At<u64> {
        match &t.max_in_flight {
            Some(m) => At::new(*m.get_ref(), self.at(m.span(), &format!("{key}.max_in_flight"))),
            None => At::new(DEFAULT_MAX_IN_FLIGHT, format!("{key}.max_in_flight")),
        }
    }

    fn step(
        &self,
        key: &str,
        s: &Spanned<StepTable>,
        default_name: &str,
        common: &BTreeMap<String, Spanned<String>>,
    ) -> Result<StepSpec, String> {
        let at = |span: std::ops::Range<usize>, field: &str| self.at(span, &format!("{key}.{field}"));
        let t = s.get_ref();
        if let Some(w) = &t.weight {
            return Err(format!(
                "{}: steps run in order, one after another; weight belongs to [[load.request]] mixes",
                at(w.span(), "weight")
            ));
        }
        let request = RequestTable {
            name: t.name.clone(),
            weight: None,
            method: t.method.clone(),
            path: t.path.clone(),
            headers: t.headers.clone(),
            body: t.body.clone(),
            json: t.json.clone(),
            stream: t.stream,
            expect_status: t.expect_status.clone(),
            expect_body: t.expect_body.clone(),
        };
        let request = self.request(key, s.span(), &request, default_name, common)?;
        let mut captures = Vec::new();
        for (name, src) in &t.capture {
            let where_ = at(src.span(), &format!("capture.{name}"));
            if !is_name(name) {
                return Err(format!(
                    "{where_}: '{name}' cannot name a capture; use letters, digits and '_', starting with a letter"
                ));
            }
            if HELPERS.contains(&name.as_str()) {
                return Err(format!(
                    "{where_}: '{name}' is a template helper ({{{{{name} ...}}}}); name the capture otherwise, e.g. {name}_value"
                ));
            }
            if self.profile.vars.contains_key(name) {
                return Err(format!(
                    "{where_}: [vars] already defines '{name}'; name the capture otherwise so {{{{{name}}}}} means one thing"
                ));
            }
            let source = source(src.get_ref(), &where_, false)?.0;
            captures.push((At::new(name.clone(), where_.clone()), At::new(source, where_)));
        }
        let poll = match &t.poll {
            None => None,
            Some(p) => {
                let pk = at(p.span(), "poll");
                let pt = p.get_ref();
                let Some(timeout) = &pt.timeout else {
                    return Err(format!(
                        "{pk}: a poll needs a timeout, so a job that never finishes fails its iteration instead of holding its user forever; e.g. timeout = \"5m\""
                    ));
                };
                let timeout = self
                    .positive_duration(&Some(timeout.clone()), &format!("{key}.poll.timeout"))?
                    .expect("given");
                let interval = self
                    .positive_duration(&pt.interval, &format!("{key}.poll.interval"))?
                    .unwrap_or(Duration::from_secs(1));
                if let Some(m) = &pt.max_attempts
                    && *m.get_ref() == 0
                {
                    return Err(format!("{}: must be at least 1", at(m.span(), "poll.max_attempts")));
                }
                let cond = |c: &Spanned<SourceTable>, field: &str| -> Result<At<ConditionSpec>, String> {
                    let w = at(c.span(), &format!("poll.{field}"));
                    let (source, test) = source(c.get_ref(), &w, true)?;
                    Ok(At::new(ConditionSpec { source, test }, w))
                };
                Some(PollSpec {
                    until: cond(&pt.until, "until")?,
                    fail_if: pt.fail_if.as_ref().map(|f| cond(f, "fail_if")).transpose()?,
                    interval,
                    timeout,
                    max_attempts: pt.max_attempts.as_ref().map(|m| *m.get_ref()),
                })
            }
        };
        Ok(StepSpec {
            request,
            captures,
            required: t.required.unwrap_or(true),
            poll,
            think: match &t.think_time {
                Some(v) => {
                    Some(parse_think_time(v.get_ref()).map_err(|e| format!("{}: {e}", at(v.span(), "think_time")))?)
                }
                None => None,
            },
        })
    }
}

/// Reads a capture's (or with `condition`, a poll condition's) table.
fn source(t: &SourceTable, at: &str, condition: bool) -> Result<(SourceSpec, Test), String> {
    let src = match (&t.json, &t.regex, &t.header) {
        (Some(p), None, None) => {
            check_pointer(p).map_err(|e| format!("{at}.json: {e}"))?;
            SourceSpec::Json(p.clone())
        }
        (None, Some(re), None) => {
            let compiled =
                regex::Regex::new(re).map_err(|e| format!("{at}.regex: not a valid regular expression: {e}"))?;
            let group = t.group.unwrap_or(usize::from(compiled.captures_len() > 1));
            if group >= compiled.captures_len() {
                return Err(format!(
                    "{at}.group: the regex has {} group(s); group must be from 0 to {}",
                    compiled.captures_len() - 1,
                    compiled.captures_len() - 1
                ));
            }
            SourceSpec::Regex(re.clone(), group)
        }
        (None, None, Some(h)) => {
            http::HeaderName::from_bytes(h.trim().as_bytes())
                .map_err(|_| format!("{at}.header: '{h}' is not a valid header name"))?;
            SourceSpec::Header(h.trim().to_ascii_lowercase())
        }
        _ => {
            return Err(format!(
                "{at}: give one of json (a JSON pointer, e.g. \"/access_token\"), regex (with group), or header"
            ));
        }
    };
    if t.group.is_some() && t.regex.is_none() {
        return Err(format!("{at}.group: group goes with regex"));
    }
    let tests = [t.equals.is_some(), t.one_of.is_some(), t.exists.is_some()];
    if !condition {
        if tests.iter().any(|&g| g) {
            return Err(format!(
                "{at}: a capture takes a value; equals, in and exists belong to a poll's until and fail_if"
            ));
        }
        return Ok((src, Test::Exists));
    }
    let json = |v: &toml::Value| serde_json::to_value(v).map_err(|e| format!("{at}: {e}"));
    let test = match (&t.equals, &t.one_of, t.exists) {
        (Some(v), None, None) => Test::Equals(json(v)?),
        (None, Some(vs), None) => Test::In(vs.iter().map(json).collect::<Result<_, _>>()?),
        (None, None, Some(true) | None) => Test::Exists,
        (None, None, Some(false)) => {
            return Err(format!(
                "{at}.exists: false would never hold; use equals or in, or leave exists out"
            ));
        }
        _ => return Err(format!("{at}: give one of equals, in or exists")),
    };
    Ok((src, test))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::load::LoadSpec;

    fn spec(scenarios: &str) -> Result<LoadSpec, String> {
        let text = format!("[load]\nbase_url = \"http://127.0.0.1:9\"\nduration = \"30s\"\n{scenarios}");
        LoadedProfile::from_text(Path::new("p.toml"), text, &[])?.load_spec((0, 1))
    }

    fn err(scenarios: &str) -> String {
        spec(scenarios).unwrap_err()
    }

    const STEP: &str = "[[scenarios.s.steps]]\npath = \"/\"\n";

    #[test]
    fn executors_read_their_own_keys_and_defaults() {
        let s = spec(&format!(
            "[scenarios.s]\nexecutor = \"ramping-users\"\nstart_users = 2\nstages = [{{ target = 7, duration = \"10s\" }}, {{ target = 3, duration = \"5s\" }}]\n{STEP}"
        ))
        .unwrap();
        let sc = &s.scenarios[0];
        assert!(matches!(&sc.model, ModelSpec::Closed { users, .. } if users.value == 7));
        let ramp = sc.ramp.as_ref().unwrap();
        assert_eq!(
            (ramp[0].value.from, ramp[0].value.to, ramp[1].value.to),
            (2.0, 7.0, 3.0)
        );
        assert_eq!(sc.duration, None, "a ramp's own stages say how long it runs");

        let s = spec(&format!(
            "[scenarios.s]\nexecutor = \"shared-iterations\"\nusers = 3\niterations = 9\nsession = \"iteration\"\ncookies = false\nstart_time = \"5s\"\n{STEP}"
        ))
        .unwrap();
        let sc = &s.scenarios[0];
        assert!(sc.shared_iterations && !sc.cookies && sc.session == Session::Iteration);
        assert_eq!(sc.start, Duration::from_secs(5));
        assert_eq!(
            sc.duration,
            Some(Duration::from_secs(30)),
            "[load] duration is the default cap"
        );

        let s = spec(&format!(
            "[scenarios.s]\nexecutor = \"constant-arrival-rate\"\nrate = 4\nduration = \"2s\"\n{STEP}"
        ))
        .unwrap();
        let ModelSpec::Open {
            stages, max_in_flight, ..
        } = &s.scenarios[0].model
        else {
            panic!("open model")
        };
        assert_eq!(stages[0].value.duration, Some(Duration::from_secs(2)));
        assert_eq!(max_in_flight.value, DEFAULT_MAX_IN_FLIGHT);
    }

    #[test]
    fn scenarios_keep_the_order_they_are_written_in() {
        let s = spec(
            "[scenarios.zeta]\nexecutor = \"constant-users\"\n[[scenarios.zeta.steps]]\npath = \"/\"\n\
             [scenarios.alpha]\nexecutor = \"constant-users\"\n[[scenarios.alpha.steps]]\npath = \"/\"\n",
        )
        .unwrap();
        let names: Vec<&str> = s.scenarios.iter().map(|s| s.name.value.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha"]);
    }

    #[test]
    fn mistakes_name_the_key_and_what_would_be_valid() {
        let cases = [
            (
                format!("[scenarios.s]\nexecutor = \"per-user-iterations\"\n{STEP}"),
                "needs iterations",
            ),
            (
                format!("[scenarios.s]\nexecutor = \"constant-arrival-rate\"\nusers = 3\n{STEP}"),
                "p.toml:6: scenarios.s.users: executor 'constant-arrival-rate' does not take users",
            ),
            (
                format!("[scenarios.s]\nexecutor = \"ramping-arrival-rate\"\n{STEP}"),
                "needs stages",
            ),
            (
                format!("[scenarios.s]\nexecutor = \"constant-users\"\nsession = \"vu\"\n{STEP}"),
                "'vu' is not a session",
            ),
            (
                "[scenarios.s]\nexecutor = \"constant-users\"\n".to_string(),
                "has no steps",
            ),
            (
                format!("[scenarios.s]\nexecutor = \"constant-users\"\n{STEP}weight = 2\n"),
                "steps run in order",
            ),
            (
                format!("[scenarios.s]\nexecutor = \"constant-users\"\n{STEP}name = \"flow\"\n"),
                "cannot be named 'flow'",
            ),
            (
                format!("[scenarios.s]\nexecutor = \"constant-users\"\n{STEP}name = \"a\"\n{STEP}name = \"a\"\n"),
                "p.toml:11: scenarios.s.steps[1].name: two steps of scenario 's' are named 'a'",
            ),
            (
                format!(
                    "[scenarios.s]\nexecutor = \"constant-users\"\n{STEP}capture.x = {{ regex = 'a(b)', group = 2 }}\n"
                ),
                "group must be from 0 to 1",
            ),
            (
                format!(
                    "[scenarios.s]\nexecutor = \"constant-users\"\n{STEP}capture.x = {{ json = \"/a\", equals = 1 }}\n"
                ),
                "belong to a poll",
            ),
            (
                format!(
                    "[scenarios.s]\nexecutor = \"constant-users\"\n{STEP}capture.x = {{ json = \"/a\", header = \"X\" }}\n"
                ),
                "give one of json",
            ),
            (
                format!(
                    "[scenarios.s]\nexecutor = \"constant-users\"\n{STEP}poll = {{ until = {{ json = \"/s\", exists = false }}, timeout = \"1s\" }}\n"
                ),
                "false would never hold",
            ),
            (
                format!(
                    "[scenarios.s]\nexecutor = \"constant-users\"\n{STEP}poll = {{ until = {{ json = \"/s\" }}, timeout = \"0s\" }}\n"
                ),
                "must be greater than zero",
            ),
            (
                format!(
                    "[scenarios.s]\nexecutor = \"constant-users\"\n{STEP}[scenarios.t]\nexecutor = \"constant-users\"\n"
                ),
                "p.toml:8: scenarios.t: the scenario has no steps",
            ),
            (
                format!("users = 3\n[scenarios.s]\nexecutor = \"constant-users\"\n{STEP}"),
                "move users into the scenarios",
            ),
        ];
        for (profile, expect) in cases {
            let e = err(&profile);
            assert!(e.contains(expect), "expected {expect:?} in: {e}\n{profile}");
        }
    }

    #[test]
    fn steps_become_endpoints_named_by_scenario_and_step() {
        let text = format!(
            "[load]\nbase_url = \"http://127.0.0.1:9\"\nduration = \"1s\"\n[scenarios.s]\nexecutor = \"constant-users\"\n\
             [[scenarios.s.on_start]]\nname = \"login\"\npath = \"/login\"\ncapture.token = {{ header = \"X-Token\" }}\n{STEP}\
             headers = {{ Authorization = \"Bearer {{{{token}}}}\" }}\n"
        );
        let p = LoadedProfile::from_text(Path::new("p.toml"), text, &[]).unwrap();
        assert_eq!(p.endpoint_names(), ["s.login", "s.step0"]);
        assert_eq!(p.scenario_names(), ["s"]);
        let cfg = crate::config::load::build(p.load_spec((0, 1)).unwrap()).unwrap();
        let names: Vec<&str> = cfg.endpoints.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["s.login", "s.step0"]);
        // The login keeps its X-Token and Set-Cookie headers; the step keeps Set-Cookie.
        assert_eq!(cfg.endpoints[0].keep_headers.len(), 2);
        assert!(!cfg.endpoints[0].keep_body);
        let crate::load::Flow::Steps(j) = &cfg.scenarios[0].flow else {
            panic!()
        };
        assert_eq!((j.on_start.len(), j.steps.len(), j.slots), (1, 1, 1));
    }
}
