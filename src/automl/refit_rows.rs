//! How many rows each final member is refitted on so that the refits end before the deadline.
//!
//! On large data the search scores configurations on samples of the rows (FLAML's sample size),
//! and the best of them can take longer to refit on all rows than the budget has left: an mlp
//! scored on 10k of 144k rows refits on all of them in ~14 times its trial's time. Rather than
//! leave such a member out (or run past the budget), it is refitted on as many rows as the time
//! left allows, never fewer than it was scored on, as FLAML's `retrain_full="budget"` does for
//! its one model. Members are planned heaviest weight first, in two passes: those that finish on
//! all rows keep all rows (the earlier keep-or-drop rule); then each of the others, in order,
//! gets as many rows as the least loaded thread still has time for, or is left out when that is
//! fewer than it was scored on. A heavy member never gives up rows to a light one.

/// The share of all rows each member is refitted on (`None`: left out, it cannot finish in time
/// even on the rows it was scored on), in the order given (heaviest weight first).
///
/// `least[i]` is member `i`'s smallest allowed share (1 where it must see all rows), `secs(i,
/// share)` its estimated refit seconds on that share (growing with the share), `left` the
/// seconds until the deadline (`None`: no deadline, all rows) and `jobs` the refits run at a
/// time, each taken by the first free thread.
pub(super) fn plan(
    least: &[f64],
    secs: impl Fn(usize, f64) -> f64,
    left: Option<f64>,
    jobs: usize,
) -> Vec<Option<f64>> {
    let Some(left) = left else {
        return vec![Some(1.0); least.len()];
    };
    let mut load = vec![0.0f64; jobs.max(1)];
    let mut out: Vec<Option<f64>> = vec![None; least.len()];
    // All rows for those that finish on them, each onto the least loaded thread.
    for (i, slot) in out.iter_mut().enumerate() {
        let (free, all) = (least_loaded(&mut load), secs(i, 1.0));
        if *free + all <= left {
            *free += all;
            *slot = Some(1.0);
        }
    }
    // The others: the largest share (not below their least) the least loaded thread has room for.
    for i in 0..least.len() {
        if out[i].is_some() {
            continue;
        }
        let low = least[i].clamp(0.0, 1.0);
        let free = least_loaded(&mut load);
        let room = left - *free;
        if secs(i, low) > room {
            continue;
        }
        let (mut lo, mut hi) = (low, 1.0);
        for _ in 0..40 {
            let mid = 0.5 * (lo + hi);
            if secs(i, mid) <= room {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        *free += secs(i, lo);
        out[i] = Some(lo);
    }
    out
}

/// The thread with the least work planned (the first of equals).
fn least_loaded(load: &mut [f64]) -> &mut f64 {
    let i = (0..load.len())
        .min_by(|&a, &b| load[a].total_cmp(&load[b]))
        .unwrap_or(0);
    &mut load[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds linear in the share: `full[i]` on all rows.
    fn linear(full: &[f64]) -> impl Fn(usize, f64) -> f64 + '_ {
        move |i, s| full[i] * s
    }

    #[test]
    fn without_a_deadline_or_with_time_enough_every_member_sees_all_rows() {
        assert_eq!(
            plan(&[0.1, 1.0], linear(&[50.0, 2.0]), None, 2),
            vec![Some(1.0); 2]
        );
        assert_eq!(
            plan(&[0.1, 1.0], linear(&[5.0, 2.0]), Some(5.0), 2),
            vec![Some(1.0); 2]
        );
    }

    #[test]
    fn a_member_too_slow_for_all_rows_gets_as_many_as_the_time_left_allows() {
        // 20 s on all rows, 8 s left: 40 % of the rows, not fewer than its 10 %.
        let p = plan(&[0.1, 1.0], linear(&[20.0, 2.0]), Some(8.0), 2);
        assert!((p[0].unwrap() - 0.4).abs() < 1e-6, "{p:?}");
        assert_eq!(p[1], Some(1.0));
        // One thread: the other member's 2 s (on all rows, planned first) come out of the 8.
        let p = plan(&[0.1, 1.0], linear(&[20.0, 2.0]), Some(8.0), 1);
        assert!((p[0].unwrap() - 0.3).abs() < 1e-6, "{p:?}");
        assert_eq!(p[1], Some(1.0));
    }

    #[test]
    fn a_member_that_cannot_finish_even_on_its_scored_rows_is_left_out() {
        // 20 s on its least 50 %: left out; the next one fits whole.
        assert_eq!(
            plan(&[0.5, 0.2], linear(&[40.0, 9.0]), Some(9.0), 1),
            vec![None, Some(1.0)]
        );
        // A member that must see all rows (bagged) is kept or left out as it is.
        assert_eq!(
            plan(&[1.0, 1.0], linear(&[3.0, 9.0]), Some(4.0), 1),
            vec![Some(1.0), None]
        );
    }

    #[test]
    fn members_that_finish_on_all_rows_keep_them_and_the_heavier_of_the_rest_come_first() {
        // On 2 threads of 10 s: the 6 s and 1 s members keep all rows (one on each thread); the
        // 30 s member then takes the 9 s left beside the 1 s one (30 % of the rows), the 12 s one
        // the 4 s beside the 6 s one (a third); a last 40 s member scored on 20 % is left out.
        let full = [30.0, 12.0, 6.0, 1.0, 40.0];
        let least = [0.05, 0.1, 0.5, 1.0, 0.2];
        let p = plan(&least, linear(&full), Some(10.0), 2);
        assert_eq!(p[2], Some(1.0));
        assert_eq!(p[3], Some(1.0));
        assert!((p[0].unwrap() - 0.3).abs() < 1e-6, "{p:?}");
        assert!((p[1].unwrap() - 1.0 / 3.0).abs() < 1e-6, "{p:?}");
        assert_eq!(p[4], None);
    }
}
