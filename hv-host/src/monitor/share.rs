//! Transparent page sharing (`--share-pages`), after Disco's copy-on-write
//! sharing and VMware ESX's content-based sharing: frames of the same
//! contents, of one VM or of several, are backed by one machine frame.
//!
//! At defined points of virtual time (every [`SCAN_INTERVAL`] clock
//! ticks, a point the scheduler stops at whatever the caller's budget),
//! the monitor hashes up to [`SCAN_BATCH`] frames in use, going on from
//! where the last scan stopped (VM by VM, in guest-physical order). A
//! frame whose hash is known is compared byte for byte with the frame
//! that hash was last seen in; if they are equal, the guest frame is
//! backed by that frame from now on and its own frame goes back to the
//! pool (and its host memory to the host). Frames of zeros are backed by
//! the monitor's zero frame. A VM's shared CP0 page is never shared (the
//! monitor writes it behind the guest's back).
//!
//! A shared frame is mapped without the dirty bit, so the first store to
//! it through any mapping exits to the monitor, which gives the VM a
//! private copy ([`super::memory::GuestMemory::private_frame`]) and
//! drops the real TLB's entries before the store completes: a VM never
//! sees another VM's stores, and the guest cannot tell (only timing
//! shows it: the copy's cost, [`cost::FRAME_COPY`], and the refills).

use super::exit::ExitCtx;
use super::memory::FRAME;
use super::{Monitor, cost};
use crate::addr::{GuestPhysAddr, MachineAddr};
use std::collections::BTreeMap;

/// Clock ticks between two scans.
pub const SCAN_INTERVAL: u64 = 2_000_000;

/// Frames one scan hashes at most.
pub const SCAN_BATCH: u32 = 256;

/// The sharing state: where the last scan stopped and which frame each
/// hash was last seen in.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Sharing {
    /// The tick of the next scan.
    pub(super) next_scan: u64,
    /// The VM and guest frame number the next scan starts at.
    cursor: (usize, u32),
    /// Hash of a frame's contents to the machine frame last seen with it.
    seen: BTreeMap<u64, u32>,
    /// Scans done.
    pub scans: u64,
}

/// A fast hash of a frame's contents (deterministic: no random keys).
fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    for w in bytes.chunks_exact(8) {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    h
}

impl Sharing {
    /// No scan yet; the first at tick `now +` [`SCAN_INTERVAL`].
    pub(super) fn new(now: u64) -> Self {
        Self {
            next_scan: now + SCAN_INTERVAL,
            ..Self::default()
        }
    }
}

impl ExitCtx<'_> {
    /// A store found its frame shared and the VM got its own copy: the
    /// real TLB may still map the old frame, so it is emptied; the copy
    /// is charged.
    pub(super) fn frame_copied(&mut self) {
        self.rtlb.flush(self.machine);
        self.charge(cost::FRAME_COPY);
    }
}

impl Monitor {
    /// The tick the scheduler must stop at next for page sharing (never
    /// without `--share-pages`).
    pub(super) fn share_deadline(&self) -> u64 {
        if self.config.share_pages {
            self.sharing.next_scan
        } else {
            u64::MAX
        }
    }

    /// Scans if the time has come (see the module doc).
    pub(super) fn share_scan_due(&mut self) {
        let now = self.now();
        if !self.config.share_pages || now < self.sharing.next_scan {
            return;
        }
        self.sharing.next_scan = now + SCAN_INTERVAL;
        self.sharing.scans += 1;
        let n = self.vms.len();
        let (mut v, mut f) = self.sharing.cursor;
        let mut left = SCAN_BATCH;
        let mut flush = false;
        let mut page = vec![0u8; FRAME as usize];
        let mut other = vec![0u8; FRAME as usize];
        let zero = self.pool.zero_frame();
        // At most one pass over every VM.
        let mut vms_left = n + 1;
        while left > 0 && vms_left > 0 {
            let vm = &mut self.vms[v % n];
            let frames = vm.mem.ram_bytes() / FRAME;
            let commpage = vm.commpage;
            while f < frames && left > 0 {
                let gpa = GuestPhysAddr::new(f * FRAME);
                f += 1;
                let Some(own) = vm.mem.peek(gpa) else {
                    continue;
                };
                if self.pool.is_shared(own) || commpage == Some(gpa) {
                    continue;
                }
                left -= 1;
                vm.stats.monitor_cycles += cost::SHARE_HASH;
                self.machine.charge_ticks(cost::SHARE_HASH);
                if self.machine.read_machine(own, &mut page).is_err() {
                    continue;
                }
                let target = if page.iter().all(|&b| b == 0) {
                    Some(zero)
                } else {
                    let h = hash(&page);
                    match self.sharing.seen.insert(h, own.raw()) {
                        Some(t) if t != own.raw() => {
                            let t = MachineAddr::new(t);
                            let same = self.pool.refs(t) >= 1
                                && self.machine.read_machine(t, &mut other).is_ok()
                                && other == page;
                            if same {
                                // The older frame stays the one to match.
                                self.sharing.seen.insert(h, t.raw());
                            }
                            same.then_some(t)
                        }
                        _ => None,
                    }
                };
                if let Some(t) = target {
                    vm.mem.merge(gpa, t, &mut self.pool, &mut self.machine);
                    // The current VM may map the frame it gave back, or
                    // own the target and map it writable: either way its
                    // real entries go.
                    flush = true;
                }
            }
            if f >= frames {
                f = 0;
                v = (v + 1) % n;
                vms_left -= 1;
            }
        }
        self.sharing.cursor = (v % n, f);
        if flush {
            self.rtlb.flush(&mut self.machine);
        }
    }

    /// Machine frames in use by the VMs and guest frames they back
    /// (with sharing, the first is smaller).
    pub fn frames_in_use(&self) -> (u64, u64) {
        let guest = self.vms.iter().map(|v| v.mem.frames_in_use()).sum();
        (self.pool.frames_in_use(), guest)
    }

    /// The most machine frames the VMs ever held at once.
    pub fn peak_frames_in_use(&self) -> u64 {
        self.pool.peak_frames_in_use()
    }

    /// Scans done by page sharing.
    pub fn share_scans(&self) -> u64 {
        self.sharing.scans
    }
}

#[cfg(test)]
mod tests {
    use super::hash;

    #[test]
    fn hash_sees_every_word() {
        let a = vec![0u8; 4096];
        let mut b = a.clone();
        b[4095] = 1;
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(hash(&b), hash(&b.clone()));
    }
}
