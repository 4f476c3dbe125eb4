//! The real TLB's bookkeeping. The real TLB holds translations to machine
//! frames: the monitor's own mappings of the VM's unmapped segments
//! (global) and copies of the VM's TLB entries (under the guest's ASID).
//! Every real entry remembers where it came from ([`Origin`]); when the
//! guest overwrites an entry of its TLB, the real entries copied from it
//! are removed at once, so the real TLB never serves a mapping the guest
//! no longer holds.

use crate::machine::Machine;
use crate::machine::tlb::{TLB_ENTRIES, TlbEntry};

/// Where a real TLB entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Origin {
    /// Nothing: the slot is empty.
    Empty,
    /// The monitor's mapping of kseg0/kseg1.
    Unmapped,
    /// The monitor's identity mapping of useg while ERL is set.
    Erl,
    /// A copy of the VM's TLB entry with this index.
    Guest(u8),
}

/// The real TLB's bookkeeping: where each entry came from, and the next
/// slot to replace (round robin, so runs are deterministic).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RealTlb {
    origin: [Origin; TLB_ENTRIES],
    next: usize,
}

impl Default for RealTlb {
    fn default() -> Self {
        Self::new()
    }
}

impl RealTlb {
    /// Empty bookkeeping (the machine's TLB must be flushed to match).
    pub fn new() -> Self {
        Self {
            origin: [Origin::Empty; TLB_ENTRIES],
            next: 0,
        }
    }

    /// Empties the real TLB.
    pub fn flush(&mut self, machine: &mut Machine) {
        machine.tlb_flush_host();
        self.origin = [Origin::Empty; TLB_ENTRIES];
    }

    /// Removes every real entry of origin `o`; returns how many.
    pub fn remove(&mut self, machine: &mut Machine, o: Origin) -> usize {
        let mut n = 0;
        for i in 0..TLB_ENTRIES {
            if self.origin[i] == o {
                machine.tlb_remove_host(i);
                self.origin[i] = Origin::Empty;
                n += 1;
            }
        }
        n
    }

    /// Installs `entry` of origin `o` after removing every real entry
    /// whose pages overlap it (a large page over small ones).
    pub(super) fn install_exclusive(&mut self, machine: &mut Machine, entry: TlbEntry, o: Origin) {
        let (start, len) = entry.virtual_range();
        let end = u64::from(start) + len;
        for i in 0..TLB_ENTRIES {
            if self.origin[i] == Origin::Empty {
                continue;
            }
            let (s, l) = machine.tlb().entry(i).virtual_range();
            if u64::from(s) < end && u64::from(start) < u64::from(s) + l {
                machine.tlb_remove_host(i);
                self.origin[i] = Origin::Empty;
            }
        }
        let i = self.next;
        self.next = (self.next + 1) % TLB_ENTRIES;
        machine.tlb_write_host(i, entry);
        self.origin[i] = o;
    }

    /// Installs `entry` of origin `o`: over an existing entry for the same
    /// pair of pages if there is one, else in the next slot.
    pub(super) fn install(&mut self, machine: &mut Machine, entry: TlbEntry, o: Origin) {
        let i = match machine.tlb().probe(entry.entry_hi) {
            Some(i) => i,
            None => {
                let i = self.next;
                self.next = (self.next + 1) % TLB_ENTRIES;
                i
            }
        };
        machine.tlb_write_host(i, entry);
        self.origin[i] = o;
    }
}
