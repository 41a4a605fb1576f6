//! Samplers decide which configuration trial `i` tries. For now: seeded random search that
//! first tries every learner once at its low-cost point.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::model::TrialConfig;
use crate::space::LearnerSpace;

/// Random search over (preprocessing × learner × hyperparameters).
pub struct RandomSampler {
    prep: LearnerSpace,
    learners: Vec<LearnerSpace>,
    seed: u64,
}

impl RandomSampler {
    /// A sampler over the given spaces; `learners` must not be empty.
    pub fn new(prep: LearnerSpace, learners: Vec<LearnerSpace>, seed: u64) -> RandomSampler {
        RandomSampler { prep, learners, seed }
    }

    /// Configuration of trial `i`: trials `0..L` are each learner's low-cost point with the default
    /// preprocessing; later ones draw learner, preprocessing and hyperparameters from an RNG seeded
    /// by `(seed, i)` alone.
    pub fn config(&self, i: usize) -> TrialConfig {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(i as u64 + 1);
        let n = self.learners.len().max(1);
        if i < n {
            let space = &self.learners[i];
            return TrialConfig {
                learner: space.learner.clone(),
                prep: self.prep.low_cost(&mut rng),
                params: space.low_cost(&mut rng),
            };
        }
        let space = &self.learners[rand::Rng::gen_range(&mut rng, 0..n)];
        TrialConfig {
            learner: space.learner.clone(),
            prep: self.prep.sample(&mut rng),
            params: space.sample(&mut rng),
        }
    }
}
