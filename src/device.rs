//! Compute devices as trial slots: `cpu` (every run has it) and CUDA GPUs (`cuda:N`, in builds
//! with the `cuda` feature). A trial of a GPU-suited learner (`mlp`) runs on a free GPU slot when
//! the run has one; the device of the trial running on this thread is visible to the learner
//! through [`current`], like the cancellation token.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// One compute device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Device {
    /// The CPU cores (the run's `--jobs` threads).
    #[default]
    Cpu,
    /// CUDA GPU number `N` (`cuda:N`).
    Cuda(usize),
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = Error;

    fn from_str(s: &str) -> Result<Device> {
        let s = s.trim();
        if s == "cpu" {
            return Ok(Device::Cpu);
        }
        if s == "cuda" {
            return Ok(Device::Cuda(0));
        }
        s.strip_prefix("cuda:")
            .and_then(|n| n.parse::<usize>().ok())
            .map(Device::Cuda)
            .ok_or_else(|| {
                Error::Config(format!(
                    "--devices: unknown device '{s}' (cpu, cuda:0, cuda:1, ...)"
                ))
            })
    }
}

/// Whether this build can use CUDA devices (the `cuda` cargo feature).
pub const CUDA_BUILT: bool = cfg!(feature = "cuda");

/// Parse a `--devices` list such as `cpu,cuda:0,cuda:1` (duplicates removed, order kept); the
/// CPU is always part of a run, listed or not. Only parses: [`Slots::open`] checks the devices.
pub fn parse_list(s: &str) -> Result<Vec<Device>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let d: Device = part.parse()?;
        if !out.contains(&d) {
            out.push(d);
        }
    }
    if out.is_empty() {
        return Err(Error::Config(
            "--devices: no device given (e.g. cpu or cpu,cuda:0)".into(),
        ));
    }
    Ok(out)
}

/// The candle device for `d`: an error naming the device when it is missing or this build has no
/// CUDA, never a silent fallback to the CPU.
pub fn candle(d: Device) -> Result<candle_core::Device> {
    match d {
        Device::Cpu => Ok(candle_core::Device::Cpu),
        Device::Cuda(i) => cuda(i),
    }
}

#[cfg(feature = "cuda")]
fn cuda(i: usize) -> Result<candle_core::Device> {
    candle_core::Device::new_cuda(i)
        .map_err(|e| Error::Config(format!("--devices: cuda:{i} is not available: {e}")))
}

#[cfg(not(feature = "cuda"))]
fn cuda(i: usize) -> Result<candle_core::Device> {
    Err(Error::Config(format!(
        "--devices: cuda:{i} asked for, but this automl was built without CUDA support; build \
         the GPU binary with `cargo build --release --features cuda` (README \"Devices and the \
         GPU build\")"
    )))
}

/// A run's GPU slots: each device runs one trial at a time.
#[derive(Debug, Clone, Default)]
pub struct Slots {
    gpus: Arc<Vec<(Device, AtomicBool)>>,
}

impl Slots {
    /// Slots for `devices`, each CUDA device checked to exist (an error names a missing one).
    pub fn open(devices: &[Device]) -> Result<Slots> {
        let mut gpus = Vec::new();
        for &d in devices {
            if let Device::Cuda(_) = d {
                candle(d)?;
                gpus.push((d, AtomicBool::new(false)));
            }
        }
        Ok(Slots { gpus: Arc::new(gpus) })
    }

    /// Whether the run has any GPU slot.
    pub fn has_gpu(&self) -> bool {
        !self.gpus.is_empty()
    }

    /// Take a free GPU slot, if any: released when the returned guard drops.
    pub fn take_gpu(&self) -> Option<Held> {
        self.gpus.iter().enumerate().find_map(|(i, (d, busy))| {
            busy.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .ok()
                .map(|_| Held {
                    slots: self.clone(),
                    index: i,
                    device: *d,
                })
        })
    }
}

/// A GPU slot held by one trial.
#[derive(Debug)]
pub struct Held {
    slots: Slots,
    index: usize,
    device: Device,
}

impl Held {
    /// The device held.
    pub fn device(&self) -> Device {
        self.device
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some((_, busy)) = self.slots.gpus.get(self.index) {
            busy.store(false, Ordering::Release);
        }
    }
}

thread_local! {
    static CURRENT: Cell<Device> = const { Cell::new(Device::Cpu) };
}

/// The device of the trial running on this thread (the CPU outside trials).
pub fn current() -> Device {
    CURRENT.with(Cell::get)
}

/// Run `f` with `device` as this thread's device.
pub fn with<T>(device: Device, f: impl FnOnce() -> T) -> T {
    struct Restore(Device);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(device)));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_lists_parse_and_missing_cuda_is_an_error() {
        assert_eq!(
            parse_list("cpu, cuda:1,cuda:0,cpu").unwrap(),
            vec![Device::Cpu, Device::Cuda(1), Device::Cuda(0)]
        );
        assert_eq!(parse_list("cuda").unwrap(), vec![Device::Cuda(0)]);
        for bad in ["gpu", "cuda:x", "", "cuda:-1"] {
            let e = parse_list(bad).unwrap_err().to_string();
            assert!(e.contains("--devices"), "{bad}: {e}");
        }
        let slots = Slots::open(&[Device::Cpu]).unwrap();
        assert!(!slots.has_gpu() && slots.take_gpu().is_none());
        if !CUDA_BUILT {
            let e = Slots::open(&[Device::Cpu, Device::Cuda(0)])
                .unwrap_err()
                .to_string();
            assert!(e.contains("cuda:0") && e.contains("--features cuda"), "{e}");
        }
        assert_eq!(with(Device::Cuda(3), current), Device::Cuda(3));
        assert_eq!(current(), Device::Cpu);
    }
}
