//! What each VM did over virtual time, for pictures (`--timeline`): per VM
//! and per bucket of clock ticks, the ticks it held the CPU (running, the
//! monitor's work for it included), the ticks it was idle (waiting for an
//! interrupt, descheduled by idle inference or keeping the CPU), and its
//! exits by reason. Recorded only when asked for
//! ([`super::Monitor::record_timeline`]).
//!
//! Memory is bounded whatever the run's length: there are at most
//! [`MAX_BUCKETS`] buckets per VM; when a run outgrows them, neighbouring
//! buckets are merged and the bucket size doubles. Deterministic: the
//! figures come from the clock only.

use super::stats::ExitReason;

/// The most buckets kept per VM.
pub const MAX_BUCKETS: usize = 512;
/// The first bucket size (ticks), as a power of two.
const FIRST_LOG2: u32 = 10;

/// One bucket of one VM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Bucket {
    /// Ticks the VM held the CPU.
    pub busy: u64,
    /// Ticks the VM was idle.
    pub idle: u64,
    /// Exits by reason, indexed like [`ExitReason::ALL`].
    pub exits: [u64; 16],
}

impl Bucket {
    fn add(&mut self, other: &Bucket) {
        self.busy += other.busy;
        self.idle += other.idle;
        for (a, b) in self.exits.iter_mut().zip(other.exits) {
            *a += b;
        }
    }
}

/// The recording.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Timeline {
    log2: u32,
    vms: Vec<Vec<Bucket>>,
}

impl Timeline {
    /// An empty recording for `vms` VMs.
    pub fn new(vms: usize) -> Self {
        Self {
            log2: FIRST_LOG2,
            vms: vec![Vec::new(); vms],
        }
    }

    /// Ticks per bucket.
    pub fn bucket_ticks(&self) -> u64 {
        1 << self.log2
    }

    /// Each VM's buckets, in VM order, from tick 0.
    pub fn vms(&self) -> &[Vec<Bucket>] {
        &self.vms
    }

    /// Halves the number of buckets: merges each pair.
    fn coarsen(&mut self) {
        self.log2 += 1;
        for buckets in &mut self.vms {
            let merged = buckets
                .chunks(2)
                .map(|pair| {
                    let mut b = pair[0];
                    if let Some(second) = pair.get(1) {
                        b.add(second);
                    }
                    b
                })
                .collect();
            *buckets = merged;
        }
    }

    /// The bucket of `vm` holding `tick` (made room for).
    fn bucket(&mut self, vm: usize, tick: u64) -> Option<&mut Bucket> {
        while (tick >> self.log2) as usize >= MAX_BUCKETS {
            self.coarsen();
        }
        let i = (tick >> self.log2) as usize;
        let buckets = self.vms.get_mut(vm)?;
        if buckets.len() <= i {
            buckets.resize(i + 1, Bucket::default());
        }
        buckets.get_mut(i)
    }

    /// Spreads the ticks `from..to` of `vm` over the buckets they fall in.
    fn span(&mut self, vm: usize, from: u64, to: u64, f: fn(&mut Bucket, u64)) {
        if to <= from {
            return;
        }
        // Room for the last tick first: buckets only grow coarser.
        let _ = self.bucket(vm, to - 1);
        let mut t = from;
        while t < to {
            let size = self.bucket_ticks();
            let end = ((t / size) + 1) * size;
            let n = end.min(to) - t;
            if let Some(b) = self.bucket(vm, t) {
                f(b, n);
            }
            t += n;
        }
    }

    /// `vm` held the CPU from tick `from` to `to`.
    pub fn busy(&mut self, vm: usize, from: u64, to: u64) {
        self.span(vm, from, to, |b, n| b.busy += n);
    }

    /// `vm` was idle from tick `from` to `to`.
    pub fn idle(&mut self, vm: usize, from: u64, to: u64) {
        self.span(vm, from, to, |b, n| b.idle += n);
    }

    /// `vm` exited to the monitor at `tick` for `reason`.
    pub fn exit(&mut self, vm: usize, tick: u64, reason: ExitReason) {
        if let Some(b) = self.bucket(vm, tick) {
            b.exits[reason as usize] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_and_exits_land_in_their_buckets_and_survive_coarsening() {
        let mut t = Timeline::new(2);
        let size = t.bucket_ticks();
        t.busy(0, 0, size + size / 2);
        t.idle(1, size / 2, size);
        t.exit(0, size + 1, ExitReason::Mmio);
        assert_eq!(t.vms()[0][0].busy, size);
        assert_eq!(t.vms()[0][1].busy, size / 2);
        assert_eq!(t.vms()[1][0].idle, size / 2);
        assert_eq!(t.vms()[0][1].exits[ExitReason::Mmio as usize], 1);
        // Far past the last bucket: coarser buckets, the sums kept.
        let far = size * MAX_BUCKETS as u64 * 4;
        t.exit(1, far, ExitReason::Int);
        assert!(t.vms().iter().all(|v| v.len() <= MAX_BUCKETS));
        assert_eq!(t.bucket_ticks(), size * 8);
        let busy: u64 = t.vms()[0].iter().map(|b| b.busy).sum();
        assert_eq!(busy, size + size / 2);
        let exits: u64 = t
            .vms()
            .iter()
            .flatten()
            .map(|b| b.exits.iter().sum::<u64>())
            .sum();
        assert_eq!(exits, 2);
    }
}
