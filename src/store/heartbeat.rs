//! The heartbeat of a worker of a shared run: a thread that refreshes this worker's claims every
//! half grace period while its trials run, so other workers know it is alive.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Sharing;

/// A running heartbeat; stops (and joins its thread) when dropped.
pub struct Heartbeat {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    /// Start beating for `sharing` (nothing when the run is not shared).
    pub fn start(sharing: Option<&Sharing>) -> Heartbeat {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = sharing.map(|sh| {
            let (sh, stop) = (sh.clone(), stop.clone());
            let every = Duration::from_secs_f64((sh.grace / 2.0).max(0.05));
            std::thread::spawn(move || {
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50).min(every));
                    if last.elapsed() >= every {
                        // A missed beat is retried at the next one; the store reconnects itself.
                        let _ = sh.claims.heartbeat(&sh.worker);
                        last = Instant::now();
                    }
                }
            })
        });
        Heartbeat { stop, thread }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
