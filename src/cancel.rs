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
}

#[derive(Clone, Default)]
pub struct StopToken {
    inner: Arc<(Mutex<Option<StopReason>>, Condvar)>,
}

impl StopToken {
    pub fn new() -> StopToken {
        StopToken::default()
    }

    /// Asks everything waiting on this token to stop. The first reason wins.
    pub fn stop(&self, reason: StopReason) {
        let (lock, cvar) = &*self.inner;
        let mut r = lock.lock().unwrap_or_else(|e| e.into_inner());
        r.get_or_insert(reason);
        cvar.notify_all();
    }

    pub fn reason(&self) -> Option<StopReason> {
        *self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `deadline` or a stop request, whichever comes first.
    /// Returns the stop reason if one was given.
    pub fn wait_until(&self, deadline: Instant) -> Option<StopReason> {
        let (lock, cvar) = &*self.inner;
        let mut r = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if r.is_some() {
                return *r;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            r = cvar
                .wait_timeout(r, deadline - now)
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
}
