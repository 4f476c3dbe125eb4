//! The joint TLB: [`TLB_ENTRIES`] R4000-style dual-page entries, each mapping
//! an even/odd pair of virtual pages (4 KiB up to 256 MiB through PageMask)
//! under an ASID or globally, with per-page valid and dirty bits.
//!
//! This module owns the entries, lookup and probe. Exceptions and the CP0
//! side of TLBR/TLBWI/TLBWR/TLBP live in the executor.

use crate::addr::GuestVirtAddr;

/// Number of JTLB entries (reported by Config1.MMUSize).
pub const TLB_ENTRIES: usize = 32;

/// EntryLo bits.
pub mod lo {
    /// Global: match regardless of ASID.
    pub const G: u32 = 1;
    /// Valid.
    pub const V: u32 = 1 << 1;
    /// Dirty: writes allowed.
    pub const D: u32 = 1 << 2;
    /// PFN field shift (PFN is bits 25..6 and names physical bits 31..12).
    pub const PFN_SHIFT: u32 = 6;
}

/// One TLB entry as TLBWI/TLBWR write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct TlbEntry {
    /// PageMask (bits 28..13).
    pub page_mask: u32,
    /// EntryHi: VPN2 (bits 31..13) and ASID (bits 7..0).
    pub entry_hi: u32,
    /// EntryLo0 (even page) without the G bit.
    pub lo0: u32,
    /// EntryLo1 (odd page) without the G bit.
    pub lo1: u32,
    /// Global bit (AND of the two EntryLo G bits when written).
    pub global: bool,
}

impl TlbEntry {
    /// The entry `tlbwi`/`tlbwr` write from PageMask, EntryHi and
    /// EntryLo0/1: VPN2 bits under the mask cleared, G the AND of the two
    /// EntryLo G bits.
    pub fn from_registers(page_mask: u32, entry_hi: u32, lo0: u32, lo1: u32) -> Self {
        TlbEntry {
            page_mask,
            entry_hi: entry_hi & (!page_mask & 0xffff_e000 | 0xff),
            lo0: lo0 & !lo::G,
            lo1: lo1 & !lo::G,
            global: lo0 & lo1 & lo::G != 0,
        }
    }

    /// Mask of the virtual address bits that select the entry (VPN2 under
    /// the page mask).
    #[inline]
    pub fn vpn2_mask(&self) -> u32 {
        !(self.page_mask | 0x1fff)
    }

    /// Size in bytes of one of the entry's two pages.
    #[inline]
    pub fn page_size(&self) -> u32 {
        ((self.page_mask | 0x1fff) >> 1) + 1
    }

    /// Whether the entry matches `vpn2` under `asid`: a virtual address or
    /// an EntryHi value, whose VPN2 bits (under the entry's page mask) are
    /// compared.
    #[inline]
    pub fn matches(&self, vpn2: u32, asid: u8) -> bool {
        let m = self.vpn2_mask();
        (vpn2 & m) == (self.entry_hi & m) && (self.global || (self.entry_hi & 0xff) as u8 == asid)
    }

    /// The first virtual address the entry covers and the number of bytes.
    pub fn virtual_range(&self) -> (u32, u64) {
        (
            self.entry_hi & self.vpn2_mask(),
            u64::from(self.page_size()) * 2,
        )
    }

    /// Whether either page of the entry is valid.
    pub fn any_valid(&self) -> bool {
        (self.lo0 | self.lo1) & lo::V != 0
    }
}

/// Result of a successful TLB lookup: the EntryLo of the matching page and
/// the physical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbHit {
    /// The EntryLo value of the page (V and D bits tell validity).
    pub lo: u32,
    /// The translated physical address (meaningful only if V is set).
    pub paddr: u32,
    /// Whether the entry is global (matches under every ASID).
    pub global: bool,
}

/// The joint TLB.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Tlb {
    entries: [TlbEntry; TLB_ENTRIES],
    /// Entries that take part in lookups. Software can only write present
    /// entries; the host may remove them ([`Tlb::remove`]), which no
    /// architectural encoding can do (even an invalid entry matches).
    present: u32,
}

impl Default for Tlb {
    fn default() -> Self {
        Self::new()
    }
}

impl Tlb {
    /// A TLB with all entries zero (they map virtual page 0 of ASID 0, but
    /// are invalid).
    pub fn new() -> Self {
        Self {
            entries: [TlbEntry::default(); TLB_ENTRIES],
            present: u32::MAX,
        }
    }

    /// The entry at `index` (masked into range).
    #[inline]
    pub fn entry(&self, index: usize) -> &TlbEntry {
        &self.entries[index % TLB_ENTRIES]
    }

    /// All entries.
    pub fn entries(&self) -> &[TlbEntry; TLB_ENTRIES] {
        &self.entries
    }

    /// Writes `entry` at `index` (masked into range); returns the entry it
    /// replaced. This is the raw array write: the machine's
    /// [`super::Machine::tlb_write_host`] keeps its caches coherent too.
    pub fn write(&mut self, index: usize, entry: TlbEntry) -> TlbEntry {
        self.present |= 1 << (index % TLB_ENTRIES);
        core::mem::replace(&mut self.entries[index % TLB_ENTRIES], entry)
    }

    /// Takes entry `index` out of lookups until it is written again;
    /// returns it (and whether it was present).
    pub fn remove(&mut self, index: usize) -> (TlbEntry, bool) {
        let bit = 1 << (index % TLB_ENTRIES);
        let was = self.present & bit != 0;
        self.present &= !bit;
        (self.entries[index % TLB_ENTRIES], was)
    }

    /// Whether entry `index` takes part in lookups.
    pub fn is_present(&self, index: usize) -> bool {
        self.present & (1 << (index % TLB_ENTRIES)) != 0
    }

    #[inline]
    fn find(&self, vaddr: u32, asid: u8) -> Option<usize> {
        self.entries
            .iter()
            .enumerate()
            .position(|(i, e)| self.present & (1 << i) != 0 && e.matches(vaddr, asid))
    }

    /// Looks `vaddr` up under `asid`. With several matching entries (which
    /// software must avoid; the architecture makes it a machine check) the
    /// lowest-numbered wins.
    #[inline]
    pub fn lookup(&self, vaddr: GuestVirtAddr, asid: u8) -> Option<TlbHit> {
        let vaddr = vaddr.raw();
        let e = &self.entries[self.find(vaddr, asid)?];
        let size = e.page_size();
        let lo = if vaddr & size == 0 { e.lo0 } else { e.lo1 };
        let pfn_addr = (lo >> lo::PFN_SHIFT) << 12;
        let paddr = (pfn_addr & !(size - 1)) | (vaddr & (size - 1));
        Some(TlbHit {
            lo,
            paddr,
            global: e.global,
        })
    }

    /// TLBP: the index of the entry matching EntryHi's VPN2 and ASID.
    pub fn probe(&self, entry_hi: u32) -> Option<usize> {
        self.find(entry_hi, (entry_hi & 0xff) as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(vpn2: u32, asid: u8, mask: u32, pfn0: u32, pfn1: u32, global: bool) -> TlbEntry {
        TlbEntry {
            page_mask: mask,
            entry_hi: vpn2 | u32::from(asid),
            lo0: (pfn0 << 6) | lo::V | lo::D,
            lo1: (pfn1 << 6) | lo::V,
            global,
        }
    }

    #[test]
    fn even_odd_pages_and_asid() {
        let mut t = Tlb::new();
        t.write(3, pair(0x0040_0000, 5, 0, 0x100, 0x200, false));
        let even = t
            .lookup(GuestVirtAddr::new(0x0040_0123), 5)
            .expect("even page");
        assert_eq!(even.paddr, 0x0010_0123);
        assert_ne!(even.lo & lo::D, 0);
        let odd = t
            .lookup(GuestVirtAddr::new(0x0040_1ffc), 5)
            .expect("odd page");
        assert_eq!(odd.paddr, 0x0020_0ffc);
        assert_eq!(odd.lo & lo::D, 0);
        assert!(
            t.lookup(GuestVirtAddr::new(0x0040_0000), 6).is_none(),
            "other ASID must miss"
        );
        assert_eq!(t.probe(0x0040_0000 | 5), Some(3));
        assert_eq!(t.probe(0x0040_0000 | 6), None);
    }

    #[test]
    fn global_and_large_pages() {
        let mut t = Tlb::new();
        // 16 MiB pages (PageMask 0x01ffe000): the pair covers 32 MiB.
        t.write(0, pair(0xc000_0000, 1, 0x01ff_e000, 0x0, 0x1000, true));
        let hit = t
            .lookup(GuestVirtAddr::new(0xc123_4567), 200)
            .expect("global matches any ASID");
        assert_eq!(hit.paddr, 0x0123_4567);
        let hit = t
            .lookup(GuestVirtAddr::new(0xc1ab_cdef), 7)
            .expect("odd 16 MiB page");
        assert_eq!(hit.paddr, 0x01ab_cdef);
        assert!(t.lookup(GuestVirtAddr::new(0xc200_0000), 1).is_none());
        assert_eq!(t.entry(0).virtual_range(), (0xc000_0000, 32 << 20));
    }
}
