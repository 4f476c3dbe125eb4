//! The virtual TLB: the TLB each VM believes it has, of the size its
//! configuration names (`--vtlb N`, reported to the guest in
//! Config1.MMUSize). Its entries hold guest-physical frame numbers; they
//! are never put in the real TLB as they are (the software TLB,
//! [`super::stlb`], translates them to machine frames on demand).

use crate::addr::{GuestPhysAddr, GuestVirtAddr};
use crate::machine::tlb::{TlbEntry, lo};

/// Largest virtual TLB (Config1.MMUSize is six bits).
pub const MAX_ENTRIES: usize = 64;

/// Smallest virtual TLB a VM may have: an instruction can need three
/// pairs of pages in the TLB at once. A load or store in a branch delay
/// slot whose branch ends one pair needs the branch's pair (the
/// instruction is restarted from the branch), the slot's and the data's;
/// a refill handler that reaches its page tables through kseg0 (Linux,
/// the demo OS) adds none. With fewer entries each refill evicts one the
/// instruction still needs and the guest refills for ever, on hardware as
/// under the monitor; with three, the monitor's choice of random entries
/// ([`super::vcpu::VirtCp0::take_random`]) guarantees progress.
pub const MIN_ENTRIES: usize = 3;

/// What a virtual TLB lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum VtlbLookup {
    /// No entry matches: a refill.
    Miss,
    /// Entry `index` matches; `lo` is the EntryLo of the page (V and D tell
    /// validity and writability), `gpa` the guest-physical address, and
    /// `page_size` the size of the guest page.
    Hit {
        /// The matching entry.
        index: usize,
        /// EntryLo of the page holding the address.
        lo: u32,
        /// The translated guest-physical address.
        gpa: GuestPhysAddr,
        /// Whether the entry is global.
        global: bool,
    },
}

/// A VM's virtual TLB.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct VirtTlb {
    entries: Vec<TlbEntry>,
}

impl VirtTlb {
    /// `n` entries (1..=[`MAX_ENTRIES`]), all zero as after reset.
    pub fn new(n: usize) -> Self {
        Self {
            entries: vec![TlbEntry::default(); n.clamp(1, MAX_ENTRIES)],
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false: a TLB has at least one entry.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The index an Index or Random value selects (wrapped into range).
    pub fn wrap(&self, index: u32) -> usize {
        index as usize % self.entries.len()
    }

    /// Entry `index` (wrapped into range).
    pub fn entry(&self, index: usize) -> &TlbEntry {
        &self.entries[index % self.entries.len()]
    }

    /// Writes entry `index` (wrapped into range).
    pub fn write(&mut self, index: usize, e: TlbEntry) {
        let n = self.entries.len();
        self.entries[index % n] = e;
    }

    /// TLBP: the lowest index matching EntryHi's VPN2 and ASID.
    pub fn probe(&self, entry_hi: u32) -> Option<usize> {
        let asid = (entry_hi & 0xff) as u8;
        self.entries.iter().position(|e| e.matches(entry_hi, asid))
    }

    /// Looks `va` up under `asid`, as the hardware would (the lowest
    /// matching index wins).
    pub fn lookup(&self, va: GuestVirtAddr, asid: u8) -> VtlbLookup {
        let va = va.raw();
        let Some(index) = self.entries.iter().position(|e| e.matches(va, asid)) else {
            return VtlbLookup::Miss;
        };
        let e = &self.entries[index];
        let size = e.page_size();
        let l = if va & size == 0 { e.lo0 } else { e.lo1 };
        let base = ((l >> lo::PFN_SHIFT) << 12) & !(size - 1);
        VtlbLookup::Hit {
            index,
            lo: l,
            gpa: GuestPhysAddr::new(base | (va & (size - 1))),
            global: e.global,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_probe_and_wrap() {
        let mut t = VirtTlb::new(48);
        assert_eq!(t.len(), 48);
        t.write(
            40,
            TlbEntry {
                page_mask: 0,
                entry_hi: 0x0040_0000 | 7,
                lo0: (0x123 << 6) | lo::V | lo::D,
                lo1: (0x456 << 6) | lo::V,
                global: false,
            },
        );
        assert_eq!(t.probe(0x0040_0000 | 7), Some(40));
        assert_eq!(t.probe(0x0040_0000 | 8), None);
        assert_eq!(
            t.lookup(GuestVirtAddr::new(0x0040_1004), 7),
            VtlbLookup::Hit {
                index: 40,
                lo: (0x456 << 6) | lo::V,
                gpa: GuestPhysAddr::new(0x0045_6004),
                global: false
            }
        );
        assert_eq!(
            t.lookup(GuestVirtAddr::new(0x0040_1004), 8),
            VtlbLookup::Miss
        );
        assert_eq!(t.wrap(50), 2);
        assert_eq!(VirtTlb::new(0).len(), 1);
        assert_eq!(VirtTlb::new(1000).len(), MAX_ENTRIES);
    }
}
