//! One cancellation token for a run. Ctrl-C, SIGTERM and SIGHUP trip it;
//! engines wait on it instead of sleeping, so a stop request ends the
//! current wait at once and the run still writes what it measured.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

/// Why a run was asked to stop early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A signal arrived (its number).
    Signal(i32),
    /// The target process exited while the run was going on.
    TargetExited,
    /// The phase is over: the run is ending normally (a linked token).
    Finished,
}

#[derive(Default)]
struct State {
    reason: Option<StopReason>,
    /// Tokens stopped whenever this one is.
    linked: Vec<StopToken>,
}

#[derive(Clone, Default)]
pub struct StopToken {
    inner: Arc<(Mutex<State>, Condvar)>,
}

impl StopToken {
    pub fn new() -> StopToken {
        StopToken::default()
    }

    /// A token of its own that this one's stop also trips: a phase of a run
    /// can be ended alone, and a stop of the whole run ends it too.
    pub fn linked(&self) -> StopToken {
        let child = StopToken::new();
        let (lock, _) = &*self.inner;
        let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
        match st.reason {
            Some(r) => child.stop(r),
            None => st.linked.push(child.clone()),
        }
        child
    }

    /// Asks everything waiting on this token to stop. The first reason wins.
    pub fn stop(&self, reason: StopReason) {
        let (lock, cvar) = &*self.inner;
        let linked = {
            let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
            if st.reason.is_some() {
                return;
            }
            st.reason = Some(reason);
            cvar.notify_all();
            std::mem::take(&mut st.linked)
        };
        for t in linked {
            t.stop(reason);
        }
    }

    pub fn reason(&self) -> Option<StopReason> {
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner()).reason
    }

    /// Waits until `deadline` or a stop request, whichever comes first.
    /// Returns the stop reason if one was given.
    pub fn wait_until(&self, deadline: Instant) -> Option<StopReason> {
        let (lock, cvar) = &*self.inner;
        let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if st.reason.is_some() {
                return st.reason;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            st = cvar
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// Trips `token` on SIGINT, SIGTERM or SIGHUP, from a background thread.
pub fn stop_on_signals(token: StopToken) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("loadprof-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                token.stop(StopReason::Signal(sig));
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn wait_returns_at_deadline_without_stop() {
        let t = StopToken::new();
        let start = Instant::now();
        assert_eq!(t.wait_until(start + Duration::from_millis(20)), None);
        assert!(start.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn stop_wakes_a_waiter_early_and_first_reason_wins() {
        let t = StopToken::new();
        let t2 = t.clone();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            t2.stop(StopReason::Signal(15));
            t2.stop(StopReason::Signal(2));
        });
        let start = Instant::now();
        let r = t.wait_until(start + Duration::from_secs(10));
        h.join().unwrap();
        assert_eq!(r, Some(StopReason::Signal(15)));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(t.reason(), Some(StopReason::Signal(15)));
    }

    #[test]
    fn a_linked_token_stops_with_its_parent_but_not_the_other_way() {
        let parent = StopToken::new();
        let phase = parent.linked();
        phase.stop(StopReason::Finished);
        assert_eq!(parent.reason(), None);
        let other = parent.linked();
        parent.stop(StopReason::Signal(2));
        assert_eq!(other.reason(), Some(StopReason::Signal(2)));
        assert_eq!(phase.reason(), Some(StopReason::Finished));
        // Linked after the stop: stopped at once.
        assert_eq!(parent.linked().reason(), Some(StopReason::Signal(2)));
    }
}
