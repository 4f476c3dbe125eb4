//! The virtual CPU's privileged half: a virtual CP0 with every register
//! and write mask the machine has, its Count/Compare timer (the machine's
//! own, [`crate::machine::timer`]) running on the monitor's global clock,
//! and the derived state the monitor needs (the privilege the real CPU
//! must run the VM at, pending virtual interrupts).
//!
//! Reads and writes follow MIPS32 Release 2 Volume III exactly as the
//! machine's own CP0 does (`machine/exec/cop0.rs`); a write returns what it
//! changed so that the monitor can act on it ([`Effects`]).

use crate::machine::cp0::{self, Cp0, Cp0Write, reg, status};
use crate::machine::{Deadline, Privilege};

/// What a CP0 write changed, for the monitor to act on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Effects {
    /// KSU, EXL or ERL changed: the real privilege may change.
    pub mode: bool,
    /// The ASID changed.
    pub asid: bool,
    /// Interrupt enables, masks or pending bits may have changed.
    pub interrupts: bool,
    /// The timer deadline moved.
    pub timer: bool,
    /// EBase was written: the guest installed its exception handlers.
    pub ebase: bool,
    /// ERL changed (the unmapped view of useg appears or goes).
    pub erl: bool,
}

/// A virtual CP0.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct VirtCp0 {
    /// The register file and its timer (Count, Random and Cause's live
    /// lines derive from time and devices, as on the machine).
    pub regs: Cp0,
    /// Entries of the virtual TLB.
    tlb_entries: u32,
    /// The entries the last two random writes took, latest first
    /// (`u32::MAX`: none yet); see [`VirtCp0::take_random`].
    recent_random: [u32; 2],
}

impl VirtCp0 {
    /// The reset state, at clock tick `now`, for a VM whose TLB has
    /// `tlb_entries` entries.
    pub fn reset(now: u64, tlb_entries: usize) -> Self {
        Self {
            regs: Cp0::reset(now),
            tlb_entries: tlb_entries as u32,
            recent_random: [u32::MAX; 2],
        }
    }

    /// Index field mask: enough bits for every TLB entry.
    pub fn index_mask(&self) -> u32 {
        self.tlb_entries.next_power_of_two() - 1
    }

    /// Config1 with this VM's MMU size.
    pub fn config1(&self) -> u32 {
        (self.regs.config1 & !(0x3f << 25)) | ((self.tlb_entries - 1) << 25)
    }

    /// Count at clock tick `now`.
    pub fn count(&self, now: u64) -> u32 {
        self.regs.count(now)
    }

    /// Random at clock tick `now`: from the top entry down to Wired.
    pub fn random(&self, now: u64) -> u32 {
        self.regs.random(now, self.tlb_entries)
    }

    /// When Count next equals Compare ([`Deadline::NEVER`] while Cause.DC
    /// freezes Count).
    pub fn deadline(&self) -> Deadline {
        self.regs.timer.deadline()
    }

    /// The entry a random write takes at clock tick `now` (`tlbwr`, a
    /// walked refill, a batch record with a random slot): Random, unless
    /// one of the last two random writes took that entry, in which case
    /// the next one down from it (wrapping from Wired to the top) that
    /// neither took; with only two entries above Wired, only the last
    /// write's is avoided, with one there is no choice.
    ///
    /// Random alone is a clock, and a guest's refill path is periodic:
    /// when the clock ticks between two refills are a multiple of the
    /// entries above Wired (the monitor's costs make that common: they
    /// are round numbers), every refill lands on the same entry and evicts
    /// the one before. A user instruction that needs its code page and its
    /// data page in the TLB at once then never completes (a `--vtlb 4`
    /// guest spun in its refill handler for ever). MIPS32 leaves the
    /// selection to the implementation within Wired..=top; the 4Kc
    /// "prevents the decrement pseudo-randomly" with an LFSR to "reduce
    /// the possibility of a live lock condition", QEMU never picks the
    /// same entry twice in a row. Avoiding the last two makes any three
    /// consecutive random writes take three different entries (two, with
    /// two entries above Wired), which is what an instruction in a branch
    /// delay slot can need: the branch's page, its own and its data's
    /// (see [`super::vtlb::MIN_ENTRIES`]).
    pub fn take_random(&mut self, now: u64) -> u32 {
        let top = self.tlb_entries - 1;
        let wired = self.regs.wired.min(top);
        let avoid = (top - wired).min(2) as usize;
        let mut r = self.random(now);
        while self.recent_random[..avoid].contains(&r) {
            r = if r == wired { top } else { r - 1 };
        }
        self.recent_random = [r, self.recent_random[0]];
        r
    }

    /// Sets Cause.TI if the clock reached the timer deadline; returns
    /// whether it did.
    pub fn tick(&mut self, now: u64) -> bool {
        self.regs.timer_tick(now)
    }

    /// Cause as the guest reads it: stored bits, the timer on IP7 and the
    /// device lines (`irq_lines`, Cause bits IP6..IP2).
    pub fn cause_value(&self, irq_lines: u32) -> u32 {
        self.regs.cause_value(irq_lines)
    }

    /// Pending interrupts that Status.IM lets through (ignoring IE/EXL):
    /// what wakes `wait`.
    pub fn unmasked_pending(&self, irq_lines: u32) -> u32 {
        self.regs.unmasked_pending(irq_lines)
    }

    /// Whether an interrupt is to be taken now.
    pub fn interrupt_deliverable(&self, irq_lines: u32) -> bool {
        self.regs.interrupts_enabled() && self.regs.unmasked_pending(irq_lines) != 0
    }

    /// Whether the VM is in (virtual) kernel mode.
    pub fn kernel_mode(&self) -> bool {
        self.regs.kernel_mode()
    }

    /// Whether the VM may use CP0 instructions (kernel mode or CU0).
    pub fn cp0_usable(&self) -> bool {
        self.regs.cp0_usable()
    }

    /// The privilege the real CPU runs the VM at: supervisor for virtual
    /// kernel and supervisor modes, user for user mode.
    pub fn real_privilege(&self) -> Privilege {
        let st = self.regs.status;
        if st & (status::EXL | status::ERL) == 0 && st & status::KSU == status::KSU_USER {
            Privilege::User
        } else {
            Privilege::Supervisor
        }
    }

    /// The ASID (EntryHi bits 7..0).
    pub fn asid(&self) -> u8 {
        self.regs.asid()
    }

    /// MFC0 of register `rd`, select `sel`, at clock tick `now`.
    pub fn read(&self, rd: u8, sel: u8, now: u64, irq_lines: u32) -> u32 {
        match (rd, sel) {
            (reg::RANDOM, 0) => self.random(now),
            (reg::COUNT, 0) => self.count(now),
            (reg::CAUSE, 0) => self.cause_value(irq_lines),
            (reg::CONFIG, 1) => self.config1(),
            _ => self.regs.read(rd, sel),
        }
    }

    /// MTC0 of `v` to register `rd`, select `sel`, at clock tick `now`.
    pub fn write(&mut self, rd: u8, sel: u8, v: u32, now: u64) -> Effects {
        let mut fx = Effects::default();
        let index_mask = self.index_mask();
        match self.regs.write(rd, sel, v, index_mask, now) {
            Cp0Write::Stored => {}
            Cp0Write::Count => fx.timer = true,
            Cp0Write::EntryHi(old) => {
                fx.asid = (old ^ self.regs.entry_hi) & cp0::ASID_MASK != 0;
            }
            Cp0Write::Compare => {
                fx.timer = true;
                fx.interrupts = true;
            }
            Cp0Write::Status(old) => {
                let changed = old ^ self.regs.status;
                fx.mode = changed & (status::KSU | status::EXL | status::ERL) != 0;
                fx.erl = changed & status::ERL != 0;
                fx.interrupts = true;
            }
            Cp0Write::Cause(old) => {
                fx.timer = (old ^ self.regs.cause) & cp0::cause::DC != 0;
                fx.interrupts = true;
            }
            Cp0Write::EBase => fx.ebase = true,
        }
        fx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::cp0::cause;

    #[test]
    fn count_compare_and_dc_freeze() {
        let mut c = VirtCp0::reset(1000, 32);
        assert_eq!(c.count(1000), 0);
        assert_eq!(c.count(1010), 10);
        c.write(reg::COMPARE, 0, 50, 1010);
        assert_eq!(c.deadline(), Deadline::at(1050));
        assert!(!c.tick(1049));
        assert!(c.tick(1050));
        assert_ne!(c.read(reg::CAUSE, 0, 1050, 0) & (1 << 15), 0);
        c.write(reg::CAUSE, 0, cause::DC, 1060);
        assert_eq!(c.count(5000), 60, "frozen");
        assert_eq!(c.deadline(), Deadline::NEVER);
        c.write(reg::CAUSE, 0, 0, 6000);
        assert_eq!(c.count(6005), 65, "runs on from where it stopped");
    }

    #[test]
    fn masks_and_mmu_size() {
        let mut c = VirtCp0::reset(0, 48);
        assert_eq!(c.index_mask(), 63);
        assert_eq!((c.read(reg::CONFIG, 1, 0, 0) >> 25) & 0x3f, 47);
        c.write(reg::INDEX, 0, 0xffff_ffff, 0);
        assert_eq!(c.read(reg::INDEX, 0, 0, 0), 63);
        let fx = c.write(reg::STATUS, 0, status::KSU_USER, 0);
        assert!(fx.mode && fx.erl);
        assert_eq!(c.real_privilege(), Privilege::User);
        c.write(reg::WIRED, 0, 10, 100);
        for t in 100..300 {
            let r = c.random(t);
            assert!((10..48).contains(&r));
        }
    }

    #[test]
    fn random_writes_do_not_retake_the_last_two_entries() {
        // Refills a multiple of four ticks apart: Random alone names the
        // same entry every time (the `--vtlb 4` livelock).
        let mut c = VirtCp0::reset(0, 4);
        let ticks = [1000, 1656, 2324, 2980, 3648];
        assert!(ticks.iter().all(|&t| c.random(t) == c.random(1000)));
        let taken: Vec<u32> = ticks.iter().map(|&t| c.take_random(t)).collect();
        assert_eq!(taken, [3, 2, 1, 3, 2]);

        // Whatever the clock does, any three consecutive random writes
        // take different entries at or above Wired (two, with two entries
        // above Wired; one entry leaves no choice).
        let mut seed = 1u64;
        for entries in 3..=64u32 {
            for wired in [0, 1, entries / 2, entries - 3, entries - 2, entries - 1] {
                let mut c = VirtCp0::reset(0, entries as usize);
                c.write(reg::WIRED, 0, wired, 0);
                let span = entries - wired;
                let (mut now, mut last) = (0u64, Vec::new());
                for _ in 0..300 {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    // Gaps that are multiples of the span, and any gaps.
                    now += match seed >> 62 {
                        0 | 1 => u64::from(span) * (1 + (seed >> 40 & 7)),
                        _ => seed >> 52,
                    };
                    let r = c.take_random(now);
                    assert!((wired..entries).contains(&r), "{entries}/{wired}: {r}");
                    last.insert(0, r);
                    last.truncate(span.min(3) as usize);
                    let mut d = last.clone();
                    d.sort_unstable();
                    d.dedup();
                    assert_eq!(d.len(), last.len(), "{entries}/{wired}: {last:?}");
                }
            }
        }
    }
}
