//! Cooperative cancellation: a trial's deadline and the sweep's stop flag, visible to the learner
//! running on the current thread so long fits can stop between steps (trees, folds, rounds).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Why work should stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The trial ran past its time limit.
    TimedOut,
    /// The whole sweep is stopping (interrupt, or the caller cancelled it).
    Cancelled,
}

/// A cheap, clonable handle saying whether the current trial should stop.
#[derive(Debug, Clone, Default)]
pub struct Token {
    flag: Option<Arc<AtomicBool>>,
    deadline: Option<Instant>,
    soft: Option<Instant>,
}

impl Token {
    /// A token that fires when `flag` is set or at `deadline`.
    pub fn new(flag: Option<Arc<AtomicBool>>, deadline: Option<Instant>) -> Token {
        Token {
            flag,
            deadline,
            soft: None,
        }
    }

    /// This token with a soft deadline: work that can end early with a usable result (a network
    /// keeping its best epoch so far) does so once it passes; other work ignores it. The final
    /// refit runs under the run's budget this way.
    pub fn with_soft_deadline(mut self, at: Option<Instant>) -> Token {
        self.soft = at;
        self
    }

    /// Whether the soft deadline has passed.
    pub fn soft_deadline_passed(&self) -> bool {
        self.soft.is_some_and(|d| Instant::now() >= d)
    }

    /// Why the work should stop now, if it should.
    pub fn reason(&self) -> Option<Reason> {
        if self.flag.as_ref().is_some_and(|f| f.load(Ordering::Relaxed)) {
            return Some(Reason::Cancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Reason::TimedOut);
        }
        None
    }

    /// Whether the work should stop now.
    pub fn fired(&self) -> bool {
        self.reason().is_some()
    }
}

thread_local! {
    static CURRENT: RefCell<Token> = RefCell::new(Token::default());
}

/// The token of the trial running on this thread (a token that never fires outside trials).
pub fn current() -> Token {
    CURRENT.with(|c| c.borrow().clone())
}

/// Run `f` with `token` as this thread's current token.
pub fn with<T>(token: Token, f: impl FnOnce() -> T) -> T {
    let old = CURRENT.with(|c| c.replace(token));
    struct Restore(Option<Token>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(t) = self.0.take() {
                CURRENT.with(|c| *c.borrow_mut() = t);
            }
        }
    }
    let _restore = Restore(Some(old));
    f()
}
