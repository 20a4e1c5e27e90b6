//! The workers: each takes the next due time from its pacer (a closed-model
//! user's own rhythm, or a ticket from the open model's arrival clock) and
//! runs one iteration, a request of the mix or a journey's steps.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::mpsc;

use super::{Run, Shared};
use crate::load::client::{PerUser, WorkerConn};
use crate::load::journey::run::{Ctx, User, iteration};
use crate::load::plan::{RatePlan, ThinkTime};
use crate::load::{Executor, Flow};

/// What a worker waits on for its next iteration.
pub(super) enum Pacer {
    Closed {
        /// This user's place among the scenario's users (for a ramp).
        index: usize,
        start_at: Instant,
        think: ThinkTime,
        iterations_left: Option<u64>,
        ramp: Option<RatePlan>,
        started: bool,
    },
    Open {
        first: Option<Instant>,
        tickets: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Instant>>>,
        idle: Arc<AtomicUsize>,
    },
}

impl Pacer {
    /// The intended start of the next iteration, or `None` when this worker is done.
    async fn next(&mut self, shared: &Shared, run: &Run, rng: &mut SmallRng) -> Option<Instant> {
        match self {
            Pacer::Closed {
                index,
                start_at,
                think,
                iterations_left,
                ramp,
                started,
            } => {
                let first = !*started;
                let wake = if first {
                    *started = true;
                    Some(*start_at)
                } else {
                    let pause = think.pick(rng.random());
                    (!pause.is_zero()).then(|| Instant::now() + pause)
                };
                if let Some(wake) = wake {
                    let wake = run.deadline.map_or(wake, |d| wake.min(d));
                    tokio::time::sleep_until(wake.into()).await;
                }
                if let Some(plan) = ramp {
                    // Below the ramp's level, this user waits for it to rise.
                    let since = Instant::now().saturating_duration_since(run.start);
                    let at = plan.first_at_least((*index + 1) as f64, since)?;
                    if at > since {
                        let wake = run.start + at;
                        if run.past_deadline(shared, wake) {
                            return None;
                        }
                        tokio::time::sleep_until(wake.into()).await;
                    }
                }
                let now = Instant::now();
                if run.past_deadline(shared, now) || *iterations_left == Some(0) || !shared.claim() {
                    return None;
                }
                if let Some(left) = &run.shared_left
                    && left
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                        .is_err()
                {
                    return None;
                }
                if let Some(n) = iterations_left {
                    *n -= 1;
                }
                if first {
                    // Counted once started: a user due after the end never runs.
                    run.workers.fetch_add(1, Ordering::Relaxed);
                }
                Some(now)
            }
            Pacer::Open { first, tickets, idle } => {
                if let Some(t) = first.take() {
                    return Some(t);
                }
                idle.fetch_add(1, Ordering::AcqRel);
                tickets.lock().await.recv().await
            }
        }
    }
}

pub(super) async fn worker(shared: Arc<Shared>, sc: usize, mut pacer: Pacer, index: u64) {
    let mut rng = SmallRng::seed_from_u64(index.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ rand::rng().random::<u64>());
    let mut conn = WorkerConn::new();
    let run = &shared.runs[sc];
    let correct = shared.cfg.latency_correction;
    match &shared.cfg.scenarios[sc].flow {
        Flow::Mix(eps) => {
            while let Some(intended) = pacer.next(&shared, run, &mut rng).await {
                let ep = shared.pick(run, eps, &mut rng);
                let intended = if correct { intended } else { Instant::now() };
                shared.in_flight[ep.index].fetch_add(1, Ordering::Relaxed);
                let rec = conn
                    .exchange(
                        &shared.connector,
                        ep,
                        &mut rng,
                        shared.limits,
                        intended,
                        PerUser::default(),
                    )
                    .await;
                shared.in_flight[ep.index].fetch_sub(1, Ordering::Relaxed);
                shared.record(&rec, conn.gaps.as_ref());
            }
        }
        Flow::Steps(journey) => {
            let ctx = Ctx {
                connector: &shared.connector,
                endpoints: &shared.cfg.endpoints,
                limits: shared.limits,
                hard_end: run.hard_end,
                correct,
                recorder: &*shared,
            };
            let mut user = User::new(journey);
            while let Some(intended) = pacer.next(&shared, run, &mut rng).await {
                // Without the correction a flow counts from its real start too.
                let intended = if correct { intended } else { Instant::now() };
                run.running.fetch_add(1, Ordering::Relaxed);
                let outcome = iteration(&ctx, journey, &mut user, &mut conn, &mut rng, intended).await;
                run.running.fetch_sub(1, Ordering::Relaxed);
                shared.record_iteration(sc, outcome);
            }
        }
    }
}

/// Longest single sleep of the arrival clock, so it notices a stop soon.
const CLOCK_SLICE: Duration = Duration::from_millis(50);

/// The open model: runs the arrival clock on a thread of its own, then
/// waits for the workers it started.
pub(super) async fn arrivals(shared: Arc<Shared>, sc: usize) {
    let handle = tokio::runtime::Handle::current();
    let s = shared.clone();
    let _ = tokio::task::spawn_blocking(move || arrival_clock(&s, sc, &handle)).await;
    let run = &shared.runs[sc];
    let mut workers = std::mem::take(&mut *run.open_workers.lock().unwrap_or_else(|e| e.into_inner()));
    while workers.join_next().await.is_some() {}
}

/// Arrivals due this little before a late process joined are still sent
/// (their lateness is measured); earlier ones are skipped.
const JOIN_SLACK: Duration = Duration::from_millis(20);

/// The open model's arrival clock. At each planned arrival it hands a
/// ticket to an idle worker, starts a new worker if fewer than
/// `max_in_flight` exist, or counts the arrival as dropped. It sleeps with
/// the kernel's precise timers on its own thread, so arrivals are not
/// rounded to the runtime's millisecond timer wheel nor delayed by busy
/// workers; whatever lateness remains is still measured, since latency
/// counts from the intended time.
fn arrival_clock(shared: &Arc<Shared>, sc: usize, handle: &tokio::runtime::Handle) {
    let Executor::Open {
        plan,
        poisson,
        max_in_flight,
        phase,
    } = shared.cfg.scenarios[sc].executor.clone()
    else {
        return;
    };
    let run = &shared.runs[sc];
    let mut rng = SmallRng::seed_from_u64(rand::rng().random());
    // A process that joined a schedule already under way starts at the
    // next arrival due, in its own place among the workers' slots; the
    // ones it missed are not sent in a burst.
    let missed = shared
        .joined
        .saturating_duration_since(run.start)
        .saturating_sub(JOIN_SLACK);
    let mut u = if missed.is_zero() {
        phase
    } else if poisson {
        plan.count_at(missed) - (1.0 - rng.random::<f64>()).ln()
    } else {
        phase + (plan.count_at(missed) - phase).max(0.0).ceil()
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let tickets = Arc::new(tokio::sync::Mutex::new(rx));
    let idle = Arc::new(AtomicUsize::new(0));
    let mut started = 0usize;
    while let Some(at) = plan.time_of(u) {
        let intended = run.start + at;
        // The wall clock too: a schedule that has fallen behind (arrivals
        // due faster than they can be handed out) still ends on time.
        if run.past_deadline(shared, intended) || run.past_deadline(shared, Instant::now()) {
            return;
        }
        loop {
            let now = Instant::now();
            if now >= intended || shared.stopping.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep((intended - now).min(CLOCK_SLICE));
        }
        if shared.stopping.load(Ordering::Relaxed) || !shared.claim() {
            return;
        }
        let claimed_idle = idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if claimed_idle {
            let _ = tx.send(intended);
        } else if started < max_in_flight {
            let mut workers = run.open_workers.lock().unwrap_or_else(|e| e.into_inner());
            // The run may have ended while this arrival was due.
            if shared.stopping.load(Ordering::Relaxed) {
                return;
            }
            started += 1;
            let n = run.workers.fetch_add(1, Ordering::Relaxed);
            let pacer = Pacer::Open {
                first: Some(intended),
                tickets: tickets.clone(),
                idle: idle.clone(),
            };
            workers.spawn_on(worker(shared.clone(), sc, pacer, n), handle);
        } else {
            run.dropped.fetch_add(1, Ordering::Relaxed);
        }
        u += if poisson {
            // A unit exponential draw: the gap to the next Poisson arrival.
            -(1.0 - rng.random::<f64>()).ln()
        } else {
            1.0
        };
    }
}
