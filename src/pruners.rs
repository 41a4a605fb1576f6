//! Early-termination policies: given every trial's step metrics so far, should trial `t` stop at
//! step `s`? Pure decisions over a [`History`]; the scheduler feeds reports and acts on answers.
//!
//! Semantics follow Azure ML sweep jobs for Bandit / Median stopping / Truncation selection, and
//! Optuna's successive halving (asynchronous, ASHA) and Hyperband. Policies are evaluated at steps
//! `s >= delay_evaluation` with `s % evaluation_interval == 0` (steps count from 1).

use std::collections::BTreeMap;

/// Whether larger metric values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Larger is better.
    Maximize,
    /// Smaller is better.
    Minimize,
}

impl Goal {
    fn better(self, a: f64, b: f64) -> bool {
        match self {
            Goal::Maximize => a > b,
            Goal::Minimize => a < b,
        }
    }

    fn best(self, values: impl Iterator<Item = f64>) -> Option<f64> {
        values.fold(None, |acc, v| match acc {
            Some(b) if !self.better(v, b) => Some(b),
            _ => Some(v),
        })
    }
}

/// Reported values of one trial.
#[derive(Debug, Clone, Default)]
pub struct Curve {
    /// Value per step.
    pub values: BTreeMap<i64, f64>,
    /// Whether the trial ended (completed or stopped).
    pub finished: bool,
    /// Its place in the order the sweep told trials (`None`: its id stands for it).
    pub told: Option<usize>,
}

/// Every trial's reported step values.
#[derive(Debug, Clone)]
pub struct History {
    /// Optimisation direction.
    pub goal: Goal,
    /// Curves by trial id.
    pub trials: BTreeMap<usize, Curve>,
}

impl History {
    /// An empty history.
    pub fn new(goal: Goal) -> History {
        History {
            goal,
            trials: BTreeMap::new(),
        }
    }

    /// Record `value` of `trial` at `step`.
    pub fn report(&mut self, trial: usize, step: i64, value: f64) {
        self.trials.entry(trial).or_default().values.insert(step, value);
    }

    /// Mark a trial ended.
    pub fn finish(&mut self, trial: usize) {
        self.trials.entry(trial).or_default().finished = true;
    }

    /// Mark a trial ended, the `told`-th trial told by the sweep.
    pub fn finish_at(&mut self, trial: usize, told: usize) {
        let c = self.trials.entry(trial).or_default();
        c.finished = true;
        c.told = Some(told);
    }
}

/// When a policy looks at reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Apply the policy every this many steps.
    pub evaluation_interval: i64,
    /// Do not apply it before this step.
    pub delay_evaluation: i64,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            evaluation_interval: 1,
            delay_evaluation: 0,
        }
    }
}

impl Schedule {
    fn applies(&self, step: i64) -> bool {
        step >= 1 && step >= self.delay_evaluation && step % self.evaluation_interval.max(1) == 0
    }
}

/// How far behind the best a Bandit policy tolerates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Slack {
    /// Ratio: maximise cuts below `best / (1 + f)`, minimise above `best * (1 + f)`.
    Factor(f64),
    /// Absolute: cuts below `best - a` (maximise) or above `best + a` (minimise).
    Amount(f64),
}

/// An early-termination policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// Never stop.
    None,
    /// Stop a trial whose value at the step is outside the slack of the best value at that step.
    Bandit {
        /// Tolerance.
        slack: Slack,
        /// When to apply.
        schedule: Schedule,
    },
    /// Stop a trial whose best value so far is worse than the median of the other trials' running
    /// averages at the step.
    Median {
        /// When to apply.
        schedule: Schedule,
    },
    /// At each evaluation, stop the trial if it is among the lowest `percentage` % of trials by
    /// value at that step (values after the step are not considered).
    Truncation {
        /// Share to cut, 1–99.
        percentage: f64,
        /// Leave finished trials out of the comparison.
        exclude_finished: bool,
        /// When to apply.
        schedule: Schedule,
    },
    /// Asynchronous successive halving: rungs at `min_resource * reduction_factor^k`; at a rung a
    /// trial continues only if it is in the top `1 / reduction_factor` of the values recorded there
    /// (the best so far always continues).
    SuccessiveHalving {
        /// First rung's step.
        min_resource: i64,
        /// Keep 1 in this many.
        reduction_factor: i64,
    },
    /// Hyperband: trials are spread over brackets (by trial id) that run successive halving with
    /// growing minimum resources, from `min_resource` up to `max_resource`.
    Hyperband {
        /// Smallest first rung.
        min_resource: i64,
        /// Largest resource.
        max_resource: i64,
        /// Keep 1 in this many.
        reduction_factor: i64,
    },
}

/// Policy parameters as given by flags or a sweep spec (Azure ML names).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySettings {
    /// Bandit ratio slack.
    pub slack_factor: Option<f64>,
    /// Bandit absolute slack.
    pub slack_amount: Option<f64>,
    /// Apply every N steps.
    pub evaluation_interval: i64,
    /// First step at which the policy applies.
    pub delay_evaluation: i64,
    /// Truncation share, 1–99.
    pub truncation_percentage: f64,
    /// Truncation: leave finished trials out.
    pub exclude_finished: bool,
    /// ASHA / Hyperband reduction factor.
    pub reduction_factor: i64,
    /// ASHA / Hyperband first rung.
    pub min_resource: i64,
    /// Hyperband largest resource.
    pub max_resource: i64,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            slack_factor: None,
            slack_amount: None,
            evaluation_interval: 1,
            delay_evaluation: 0,
            truncation_percentage: 25.0,
            exclude_finished: false,
            reduction_factor: 2,
            min_resource: 1,
            max_resource: 8,
        }
    }
}

impl Policy {
    /// Build the policy `kind` (none, bandit, median(_stopping), truncation(_selection), asha,
    /// hyperband) from its settings, checking them.
    pub fn from_settings(kind: &str, s: &PolicySettings) -> crate::error::Result<Policy> {
        use crate::error::Error;
        let schedule = Schedule {
            evaluation_interval: s.evaluation_interval,
            delay_evaluation: s.delay_evaluation,
        };
        if s.evaluation_interval < 1 || s.delay_evaluation < 0 {
            return Err(Error::Config(
                "evaluation interval must be at least 1 and delay evaluation at least 0".into(),
            ));
        }
        if s.reduction_factor < 2 || s.min_resource < 1 || s.max_resource < s.min_resource {
            return Err(Error::Config(
                "reduction factor must be at least 2, and 1 <= min resource <= max resource".into(),
            ));
        }
        let positive = |x: f64| x > 0.0 && x.is_finite();
        Ok(match kind.to_ascii_lowercase().as_str() {
            "none" => Policy::None,
            "bandit" => {
                let slack =
                    match (s.slack_factor, s.slack_amount) {
                        (Some(_), Some(_)) => {
                            return Err(Error::Config(
                                "bandit takes a slack factor or a slack amount, not both".into(),
                            ))
                        }
                        (Some(f), None) if positive(f) => Slack::Factor(f),
                        (None, Some(a)) if positive(a) => Slack::Amount(a),
                        (None, None) => return Err(Error::Config(
                            "bandit needs a slack factor or a slack amount (--slack-factor / --slack-amount)"
                                .into(),
                        )),
                        _ => return Err(Error::Config("the bandit slack must be a positive number".into())),
                    };
                Policy::Bandit { slack, schedule }
            }
            "median" | "median_stopping" => Policy::Median { schedule },
            "truncation" | "truncation_selection" => {
                let p = s.truncation_percentage;
                if !(1.0..=99.0).contains(&p) {
                    return Err(Error::Config(format!(
                        "truncation percentage must be between 1 and 99, got {p}"
                    )));
                }
                Policy::Truncation {
                    percentage: p,
                    exclude_finished: s.exclude_finished,
                    schedule,
                }
            }
            "asha" | "successive_halving" => Policy::SuccessiveHalving {
                min_resource: s.min_resource,
                reduction_factor: s.reduction_factor,
            },
            "hyperband" => Policy::Hyperband {
                min_resource: s.min_resource,
                max_resource: s.max_resource,
                reduction_factor: s.reduction_factor,
            },
            o => {
                return Err(Error::Config(format!(
                "unknown early-termination policy '{o}' (none, bandit, median, truncation, asha, hyperband)"
            )))
            }
        })
    }
}

/// What a decision may look at: the first `limit` trials told of `told` (by their place in the
/// told order, else their id; other than the deciding trial), plus the deciding trial's own curve.
struct View<'a> {
    goal: Goal,
    told: &'a History,
    limit: usize,
    own: usize,
    curve: &'a Curve,
}

impl<'a> View<'a> {
    fn curves(&self) -> impl Iterator<Item = (usize, &'a Curve)> + '_ {
        let own = self.own;
        let limit = self.limit;
        self.told
            .trials
            .iter()
            .filter(move |(&t, c)| t != own && c.told.unwrap_or(t) < limit)
            .map(|(&t, c)| (t, c))
            .chain(std::iter::once((self.own, self.curve)))
    }

    fn value(&self, c: &Curve, step: i64) -> Option<f64> {
        c.values.get(&step).copied()
    }
}

impl Policy {
    /// Whether `trial`, which just reported at `step`, should stop, looking at every trial of `h`.
    pub fn should_stop(&self, h: &History, trial: usize, step: i64) -> bool {
        let empty = Curve::default();
        let curve = h.trials.get(&trial).unwrap_or(&empty);
        self.decide(h, usize::MAX, trial, curve, step)
    }

    /// Whether `trial` (its reports so far in `curve`) should stop at `step`, comparing it with the
    /// first `limit` trials told of `told` only. The sweep passes the trials its sampler saw,
    /// so decisions do not depend on timing.
    pub fn decide(&self, told: &History, limit: usize, trial: usize, curve: &Curve, step: i64) -> bool {
        let v = View {
            goal: told.goal,
            told,
            limit,
            own: trial,
            curve,
        };
        let goal = v.goal;
        let Some(value) = v.value(curve, step) else {
            return false;
        };
        match self {
            Policy::None => false,
            Policy::Bandit { slack, schedule } => {
                if !schedule.applies(step) {
                    return false;
                }
                let Some(best) = goal.best(v.curves().filter_map(|(_, c)| v.value(c, step))) else {
                    return false;
                };
                let limit = match (slack, goal) {
                    // best/(1+f) and best·(1+f) for positive values, written with |best| so a
                    // negative best still leaves the limit on the worse side.
                    (Slack::Factor(f), Goal::Maximize) => best - best.abs() * f / (1.0 + f),
                    (Slack::Factor(f), Goal::Minimize) => best + best.abs() * f,
                    (Slack::Amount(a), Goal::Maximize) => best - a,
                    (Slack::Amount(a), Goal::Minimize) => best + a,
                };
                goal.better(limit, value)
            }
            Policy::Median { schedule } => {
                if !schedule.applies(step) {
                    return false;
                }
                let mut averages: Vec<f64> = v
                    .curves()
                    .filter(|(t, _)| *t != trial)
                    .filter_map(|(_, c)| {
                        let upto: Vec<f64> = c.values.range(..=step).map(|(_, v)| *v).collect();
                        (!upto.is_empty()).then(|| upto.iter().sum::<f64>() / upto.len() as f64)
                    })
                    .collect();
                if averages.is_empty() {
                    return false;
                }
                averages.sort_by(f64::total_cmp);
                let n = averages.len();
                let median = if n % 2 == 1 {
                    averages[n / 2]
                } else {
                    (averages[n / 2 - 1] + averages[n / 2]) / 2.0
                };
                let own_best = goal.best(curve.values.range(..=step).map(|(_, v)| *v));
                own_best.is_some_and(|b| goal.better(median, b))
            }
            Policy::Truncation {
                percentage,
                exclude_finished,
                schedule,
            } => {
                if !schedule.applies(step) {
                    return false;
                }
                let mut values: Vec<(f64, usize)> = v
                    .curves()
                    .filter(|(t, c)| *t == trial || !(*exclude_finished && c.finished))
                    .filter_map(|(t, c)| v.value(c, step).map(|x| (x, t)))
                    .collect();
                // Worst first; ties broken by trial id so the decision is deterministic.
                values.sort_by(|a, b| {
                    let ord = a.0.total_cmp(&b.0);
                    let ord = if goal == Goal::Maximize {
                        ord
                    } else {
                        ord.reverse()
                    };
                    ord.then(b.1.cmp(&a.1))
                });
                let cut = ((values.len() as f64) * percentage / 100.0).floor() as usize;
                values.iter().take(cut).any(|&(_, t)| t == trial)
            }
            Policy::SuccessiveHalving {
                min_resource,
                reduction_factor,
            } => asha(&v, value, step, *min_resource, *reduction_factor, |_| true),
            Policy::Hyperband {
                min_resource,
                max_resource,
                reduction_factor,
            } => {
                let eta = (*reduction_factor).max(2);
                let brackets = hyperband_brackets(*min_resource, *max_resource, eta);
                let b = (trial % brackets as usize) as u32;
                let first = eta.saturating_pow(b).saturating_mul(*min_resource.max(&1));
                asha(&v, value, step, first, eta, |t| {
                    t % brackets as usize == b as usize
                })
            }
        }
    }

    /// A one-line description with the parameters, e.g. `bandit(slack_factor=0.2, interval=1, delay=0)`.
    pub fn describe(&self) -> String {
        match self {
            Policy::None => "none".into(),
            Policy::Bandit { slack, schedule } => {
                let s = match slack {
                    Slack::Factor(f) => format!("slack_factor={f}"),
                    Slack::Amount(a) => format!("slack_amount={a}"),
                };
                format!(
                    "bandit({s}, interval={}, delay={})",
                    schedule.evaluation_interval, schedule.delay_evaluation
                )
            }
            Policy::Median { schedule } => format!(
                "median(interval={}, delay={})",
                schedule.evaluation_interval, schedule.delay_evaluation
            ),
            Policy::Truncation {
                percentage,
                exclude_finished,
                schedule,
            } => format!(
                "truncation(percentage={percentage}, exclude_finished={exclude_finished}, interval={}, delay={})",
                schedule.evaluation_interval, schedule.delay_evaluation
            ),
            Policy::SuccessiveHalving {
                min_resource,
                reduction_factor,
            } => format!("asha(min_resource={min_resource}, reduction_factor={reduction_factor})"),
            Policy::Hyperband {
                min_resource,
                max_resource,
                reduction_factor,
            } => format!(
                "hyperband(min_resource={min_resource}, max_resource={max_resource}, reduction_factor={reduction_factor})"
            ),
        }
    }

    /// The steps at which an objective with resources from 1 to `max` should report so that this
    /// policy sees every decision point: the rungs for successive halving / Hyperband, powers of two
    /// otherwise; always ends with `max`.
    pub fn report_steps(&self, max: i64) -> Vec<i64> {
        let max = max.max(1);
        let mut steps = Vec::new();
        let (first, eta) = match self {
            Policy::SuccessiveHalving {
                min_resource,
                reduction_factor,
            }
            | Policy::Hyperband {
                min_resource,
                reduction_factor,
                ..
            } => (*min_resource.max(&1), (*reduction_factor).max(2)),
            _ => (1, 2),
        };
        let mut s = first;
        while s < max {
            steps.push(s);
            s = s.saturating_mul(eta);
        }
        steps.push(max);
        steps
    }
}

/// Number of Hyperband brackets for resources `min..=max` and reduction factor `eta`.
fn hyperband_brackets(min_resource: i64, max_resource: i64, eta: i64) -> u32 {
    let mut brackets = 1;
    while eta
        .checked_pow(brackets)
        .and_then(|p| p.checked_mul(min_resource.max(1)))
        .is_some_and(|r| r <= max_resource)
    {
        brackets += 1;
    }
    brackets
}

/// Successive halving at the rungs `min_resource * eta^k`, among trials selected by `peer`.
fn asha(v: &View, value: f64, step: i64, min_resource: i64, eta: i64, peer: impl Fn(usize) -> bool) -> bool {
    let eta = eta.max(2);
    let mut rung = min_resource.max(1);
    while rung < step {
        match rung.checked_mul(eta) {
            Some(r) => rung = r,
            None => return false, // beyond every rung
        }
    }
    if rung != step {
        return false;
    }
    let mut competing: Vec<f64> = v
        .curves()
        .filter(|(t, _)| peer(*t))
        .filter_map(|(_, c)| v.value(c, step))
        .collect();
    competing.sort_by(|a, b| {
        if v.goal == Goal::Maximize {
            b.total_cmp(a)
        } else {
            a.total_cmp(b)
        }
    });
    // Top floor(n / eta) continue, and at least the best one (Optuna's rule).
    let keep = (competing.len() as i64 / eta).max(1) as usize;
    let threshold = competing[keep - 1];
    v.goal.better(threshold, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(goal: Goal, curves: &[&[f64]]) -> History {
        let mut h = History::new(goal);
        for (t, c) in curves.iter().enumerate() {
            for (i, v) in c.iter().enumerate() {
                h.report(t, i as i64 + 1, *v);
            }
        }
        h
    }

    #[test]
    fn bandit_factor_cuts_below_best_over_one_plus_slack() {
        // Best 0.8 at step 1 with slack 0.2 → keep values ≥ 0.8 / 1.2 = 0.6667.
        let h = history(Goal::Maximize, &[&[0.8], &[0.66], &[0.67]]);
        let p = Policy::Bandit {
            slack: Slack::Factor(0.2),
            schedule: Schedule::default(),
        };
        assert!(!p.should_stop(&h, 0, 1));
        assert!(p.should_stop(&h, 1, 1));
        assert!(!p.should_stop(&h, 2, 1));
    }

    #[test]
    fn bandit_amount_minimise_and_schedule() {
        // Minimise, best loss 0.3, amount 0.1 → stop above 0.4; evaluated every 2 steps from step 4.
        let h = history(
            Goal::Minimize,
            &[
                &[0.5, 0.4, 0.35, 0.3],
                &[0.9, 0.9, 0.9, 0.45],
                &[0.5, 0.5, 0.4, 0.39],
            ],
        );
        let p = Policy::Bandit {
            slack: Slack::Amount(0.1),
            schedule: Schedule {
                evaluation_interval: 2,
                delay_evaluation: 4,
            },
        };
        assert!(!p.should_stop(&h, 1, 2), "step 2 is before the delay");
        assert!(!p.should_stop(&h, 1, 3), "step 3 is off the interval");
        assert!(p.should_stop(&h, 1, 4));
        assert!(!p.should_stop(&h, 2, 4));
    }

    #[test]
    fn a_decision_sees_the_first_trials_told_not_the_lowest_ids() {
        // Trial 0 (best, 0.9) was told third, after trials 1 (0.5) and 2 (0.6): a decision
        // limited to the first two told trials does not see it.
        let mut h = history(Goal::Maximize, &[&[0.9], &[0.5], &[0.6]]);
        for (t, at) in [(1, 0), (2, 1), (0, 2)] {
            h.finish_at(t, at);
        }
        let p = Policy::Bandit {
            slack: Slack::Amount(0.1),
            schedule: Schedule::default(),
        };
        let own = Curve {
            values: [(1, 0.55)].into(),
            ..Curve::default()
        };
        assert!(!p.decide(&h, 2, 3, &own, 1), "0.55 is within 0.1 of 0.6");
        assert!(p.decide(&h, 3, 3, &own, 1), "0.55 is not within 0.1 of 0.9");
    }

    #[test]
    fn median_compares_best_with_others_running_averages() {
        // At step 2: running averages A .55, B .75, C .25.
        let h = history(Goal::Maximize, &[&[0.5, 0.6], &[0.7, 0.8], &[0.2, 0.3]]);
        let p = Policy::Median {
            schedule: Schedule::default(),
        };
        // C: best .3 vs median(.55, .75) = .65 → stop. A: best .6 vs median(.75, .25) = .5 → continue.
        assert!(p.should_stop(&h, 2, 2));
        assert!(!p.should_stop(&h, 0, 2));
        assert!(!p.should_stop(&h, 1, 2));
    }

    #[test]
    fn truncation_uses_only_values_at_the_interval() {
        // Four trials at step 2; 25 % → the single worst is cut. Trial 3 is worst at step 2 but
        // best at step 3: later values must not rescue it.
        let h = history(
            Goal::Maximize,
            &[&[0.5, 0.6], &[0.5, 0.7], &[0.5, 0.65], &[0.5, 0.1, 0.99]],
        );
        let p = Policy::Truncation {
            percentage: 25.0,
            exclude_finished: false,
            schedule: Schedule::default(),
        };
        assert!(p.should_stop(&h, 3, 2));
        assert!(!p.should_stop(&h, 0, 2));
        assert!(
            !p.should_stop(&h, 3, 3),
            "alone at step 3, one trial: 25 % of 1 rounds to none"
        );
    }

    #[test]
    fn truncation_can_exclude_finished_trials() {
        let mut h = history(Goal::Minimize, &[&[0.1], &[0.2], &[0.3], &[0.9]]);
        let p = |exclude| Policy::Truncation {
            percentage: 50.0,
            exclude_finished: exclude,
            schedule: Schedule::default(),
        };
        // Losses 0.1 0.2 0.3 0.9: the worst half is {0.9, 0.3}.
        assert!(p(false).should_stop(&h, 2, 1));
        h.finish(0);
        h.finish(1);
        // Without the finished ones, trial 2 (0.3) is the better of {0.3, 0.9}: half of 2 = 1 cut.
        assert!(!p(true).should_stop(&h, 2, 1));
        assert!(p(true).should_stop(&h, 3, 1));
    }

    #[test]
    fn asha_keeps_top_third_at_each_rung() {
        let p = Policy::SuccessiveHalving {
            min_resource: 1,
            reduction_factor: 3,
        };
        let mut h = History::new(Goal::Maximize);
        // Rung at step 1: the first trial is the best so far and continues.
        h.report(0, 1, 0.5);
        assert!(!p.should_stop(&h, 0, 1));
        // A worse second trial (top 1 of 2) stops; a better third continues.
        h.report(1, 1, 0.4);
        assert!(p.should_stop(&h, 1, 1));
        h.report(2, 1, 0.9);
        assert!(!p.should_stop(&h, 2, 1));
        // Steps between rungs (2) never stop; the next rung is 3.
        h.report(2, 2, 0.1);
        assert!(!p.should_stop(&h, 2, 2));
        // Six values at rung 1 → top 2 continue: 0.9 and 0.8.
        for (t, v) in [(3, 0.8), (4, 0.3), (5, 0.2)] {
            h.report(t, 1, v);
        }
        assert!(!p.should_stop(&h, 3, 1));
        assert!(p.should_stop(&h, 0, 1));
    }

    #[test]
    fn hyperband_brackets_have_their_own_rungs() {
        // eta 3, resources 1..9 → brackets with first rungs 1, 3, 9; trial t is in bracket t % 3.
        let p = Policy::Hyperband {
            min_resource: 1,
            max_resource: 9,
            reduction_factor: 3,
        };
        let mut h = History::new(Goal::Minimize);
        h.report(0, 1, 0.5);
        h.report(3, 1, 0.9);
        h.report(1, 1, 0.95); // bracket 1: no rung at step 1
        assert!(p.should_stop(&h, 3, 1), "bracket 0: 0.9 is worse than 0.5");
        assert!(!p.should_stop(&h, 1, 1), "bracket 1 first decides at step 3");
        h.report(1, 3, 0.9);
        h.report(4, 3, 0.2);
        assert!(p.should_stop(&h, 1, 3));
        assert!(!p.should_stop(&h, 4, 3));
    }
}
