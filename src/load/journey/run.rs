//! One virtual user's pass through a journey: its `on_start` steps once,
//! then each iteration's steps in order, carrying captures and cookies,
//! repeating a poll step's request until its condition holds. Every
//! request is recorded on its step's endpoint as it ends; the iteration's
//! outcome goes back to the engine.

use std::time::{Duration, Instant, SystemTime};

use rand::RngExt;
use rand::rngs::SmallRng;

use super::cookies::CookieJar;
use super::{Answer, Journey, Outcome, Step, holds, read};
use crate::config::units::format_duration;
use crate::load::Endpoint;
use crate::load::client::{Connector, Limits, PerUser, WorkerConn};
use crate::load::stats::{Hist, Record};

/// Where a user's requests and polls are counted: the engine.
pub trait Recorder {
    fn request(&self, rec: &Record, gaps: Option<&Hist>);
    fn poll(&self, endpoint: usize, turnaround: Duration, attempts: u32);
    /// A request of `endpoint` starts (`true`) or ends (`false`).
    fn in_flight(&self, endpoint: usize, starts: bool);
    /// The run is being stopped.
    fn stopping(&self) -> bool;
}

/// What a user's requests need from the engine.
pub struct Ctx<'a, R> {
    pub connector: &'a Connector,
    pub endpoints: &'a [Endpoint],
    pub limits: Limits,
    /// Past this, an iteration stops where it is (the scenario's graceful stop).
    pub hard_end: Option<Instant>,
    /// Measure the first request from the iteration's intended start.
    pub correct: bool,
    pub recorder: &'a R,
}

/// A virtual user of a journey: its captures, by slot, and its cookies.
#[derive(Debug, Default)]
pub struct User {
    vars: Vec<String>,
    jar: CookieJar,
    /// What `on_start` left: where a `session = "iteration"` user starts
    /// each iteration from.
    base_vars: Vec<String>,
    base_jar: CookieJar,
    started: bool,
    cookie: String,
}

impl User {
    pub fn new(journey: &Journey) -> User {
        User {
            vars: vec![String::new(); journey.slots],
            ..User::default()
        }
    }
}

enum StepEnd {
    Failed(String),
    Interrupted,
}

/// Runs one iteration for `user`, due at `intended`.
pub async fn iteration<R: Recorder>(
    ctx: &Ctx<'_, R>,
    journey: &Journey,
    user: &mut User,
    conn: &mut WorkerConn,
    rng: &mut SmallRng,
    intended: Instant,
) -> Outcome {
    let mut intended = intended;
    if !user.started {
        let mut untimed = Duration::ZERO;
        for (i, step) in journey.on_start.iter().enumerate() {
            match run_step(ctx, journey, step, user, conn, rng, None, &mut untimed).await {
                Ok(()) => {}
                Err(StepEnd::Failed(why)) => return Outcome::Failed { step: i, why },
                Err(StepEnd::Interrupted) => return Outcome::Interrupted,
            }
        }
        user.started = true;
        user.base_vars.clone_from(&user.vars);
        user.base_jar = user.jar.clone();
        if !journey.on_start.is_empty() {
            // The login is not part of the flow it prepares.
            intended = Instant::now();
        }
    } else if journey.session == super::Session::Iteration {
        user.vars.clone_from(&user.base_vars);
        user.jar = user.base_jar.clone();
    }
    let mut active = Duration::ZERO;
    for (i, step) in journey.steps.iter().enumerate() {
        let first = (i == 0).then_some(intended);
        match run_step(ctx, journey, step, user, conn, rng, first, &mut active).await {
            Ok(()) => {}
            Err(StepEnd::Failed(why)) => {
                return Outcome::Failed {
                    step: journey.on_start.len() + i,
                    why,
                };
            }
            Err(StepEnd::Interrupted) => return Outcome::Interrupted,
        }
    }
    Outcome::Done {
        flow: Instant::now().saturating_duration_since(intended),
        active,
    }
}

fn interrupted<R: Recorder>(ctx: &Ctx<'_, R>) -> bool {
    ctx.recorder.stopping() || ctx.hard_end.is_some_and(|h| Instant::now() >= h)
}

/// Sleeps `d`, or until the hard end; false if the hard end came first.
async fn pause<R: Recorder>(ctx: &Ctx<'_, R>, d: Duration) -> bool {
    let wake = Instant::now() + d;
    match ctx.hard_end {
        Some(h) if h <= wake => {
            tokio::time::sleep_until(h.into()).await;
            false
        }
        _ => {
            tokio::time::sleep_until(wake.into()).await;
            !ctx.recorder.stopping()
        }
    }
}

/// Runs one step (every attempt of a poll); `first` is the intended start
/// of an iteration's first request; `active` gains the time spent in requests.
#[allow(clippy::too_many_arguments)]
async fn run_step<R: Recorder>(
    ctx: &Ctx<'_, R>,
    journey: &Journey,
    step: &Step,
    user: &mut User,
    conn: &mut WorkerConn,
    rng: &mut SmallRng,
    first: Option<Instant>,
    active: &mut Duration,
) -> Result<(), StepEnd> {
    let ep = &ctx.endpoints[step.endpoint];
    let cookie_path = step.cookie_path.as_str();
    let poll_start = Instant::now();
    let mut attempts = 0u32;
    loop {
        if interrupted(ctx) {
            return Err(StepEnd::Interrupted);
        }
        attempts += 1;
        let cookie =
            (journey.cookies && !step.own_cookie && user.jar.header(cookie_path, SystemTime::now(), &mut user.cookie))
                .then_some(user.cookie.as_str());
        let sent = Instant::now();
        let intended = match first {
            Some(t) if attempts == 1 && ctx.correct => t,
            _ => sent,
        };
        ctx.recorder.in_flight(ep.index, true);
        let rec = conn
            .exchange(
                ctx.connector,
                ep,
                rng,
                ctx.limits,
                intended,
                PerUser {
                    vars: &user.vars,
                    cookie,
                },
            )
            .await;
        ctx.recorder.in_flight(ep.index, false);
        *active += sent.elapsed();
        ctx.recorder.request(&rec, conn.gaps.as_ref());
        if journey.cookies {
            let now = SystemTime::now();
            for (name, value) in conn.headers() {
                if name == http::header::SET_COOKIE {
                    user.jar.store(value, cookie_path, now);
                }
            }
        }
        if let (Some(kind), Some(why)) = (rec.error, &rec.detail) {
            return Err(StepEnd::Failed(format!("{} ({})", why, kind.name())));
        }
        let Some(poll) = &step.poll else { break };
        let answer = Answer::new(conn.body(), conn.headers());
        if let Some(f) = &poll.fail_if {
            match holds(f, &answer) {
                Ok(true) => {
                    return Err(StepEnd::Failed(format!(
                        "fail_if held at attempt {attempts} ({})",
                        value_of(f, &answer)
                    )));
                }
                Ok(false) => {}
                Err(e) => return Err(StepEnd::Failed(format!("poll: {e}"))),
            }
        }
        match holds(&poll.until, &answer) {
            Ok(true) => {
                ctx.recorder.poll(ep.index, poll_start.elapsed(), attempts);
                break;
            }
            Ok(false) => {}
            Err(e) => return Err(StepEnd::Failed(format!("poll: {e}"))),
        }
        if poll.max_attempts.is_some_and(|m| attempts >= m) {
            return Err(StepEnd::Failed(format!(
                "not done after {attempts} attempts (max_attempts)"
            )));
        }
        if poll_start.elapsed() + poll.interval > poll.timeout {
            return Err(StepEnd::Failed(format!(
                "not done within its timeout of {} ({attempts} attempts)",
                format_duration(poll.timeout)
            )));
        }
        if !pause(ctx, poll.interval).await {
            return Err(StepEnd::Interrupted);
        }
    }
    let answer = Answer::new(conn.body(), conn.headers());
    for c in &step.captures {
        match read(&c.from, &answer) {
            Ok(Some(v)) => user.vars[c.slot] = v,
            Ok(None) if !step.required => user.vars[c.slot].clear(),
            Ok(None) => {
                return Err(StepEnd::Failed(format!(
                    "capture '{}' found nothing ({}) in {}",
                    c.name,
                    c.from.describe(),
                    shown(conn.body())
                )));
            }
            Err(e) => return Err(StepEnd::Failed(format!("capture '{}': {e}", c.name))),
        }
    }
    if let Some(think) = step.think
        && !pause(ctx, think.pick(rng.random())).await
    {
        return Err(StepEnd::Interrupted);
    }
    Ok(())
}

/// An answer's body for an example in words: its shape, never its
/// values (a login's answer holds a token).
fn shown(body: &[u8]) -> String {
    if body.is_empty() {
        return "an empty body".into();
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => {
            let mut keys: Vec<String> = m.keys().take(8).map(|k| super::clip(k, 40)).collect();
            if m.len() > 8 {
                keys.push("...".into());
            }
            format!("a JSON object with keys {}", keys.join(", "))
        }
        Ok(serde_json::Value::Array(a)) => format!("a JSON array of {} items", a.len()),
        Ok(_) => "a JSON scalar".into(),
        Err(_) => format!("a body of {} bytes that is not JSON", body.len()),
    }
}

/// The value a condition read, shortened, for an example in words.
fn value_of(c: &super::Condition, answer: &Answer<'_>) -> String {
    match read(&c.source, answer) {
        Ok(Some(v)) => format!("{} is {:?}", c.source.describe(), super::clip(&v, 60)),
        _ => c.source.describe(),
    }
}
