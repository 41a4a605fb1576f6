//! The panic guard (a leaf module): a trial's panic becomes an error of that trial, and panic
//! hooks can tell a guarded panic from a crash.

thread_local! {
    static IN_TRIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the current thread is inside [`guarded`] (panic hooks use this to stay quiet).
pub fn in_trial() -> bool {
    IN_TRIAL.with(std::cell::Cell::get)
}

/// Run `f`, turning a panic into `Err(message)`; panic hooks can stay quiet meanwhile ([`in_trial`]).
pub fn guarded<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    let was = IN_TRIAL.with(|g| g.replace(true));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_TRIAL.with(|g| g.set(was));
    out.map_err(|p| {
        if let Some(s) = p.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = p.downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic".to_string()
        }
    })
}
