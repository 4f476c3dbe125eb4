//! Translation caches: direct-mapped caches from a 4 KiB virtual page to a
//! memory-buffer offset, one set per translation regime (kernel, kernel with
//! ERL, supervisor, user), separately for reads and writes, plus a one-entry
//! fetch cache. They only ever hold translations the MMU already granted
//! (segment rules, TLB match, V and D bits) for pages of plain memory, so a
//! hit needs no further check; everything else takes the slow path.
//!
//! Entries are tagged with the ASID they were granted under, unless the
//! translation holds for every ASID (unmapped segments, global TLB
//! entries): a lookup matches the page and, for tagged entries, the current
//! ASID. So a change of ASID (a guest's kernel/user switch, a context
//! switch, a VM switch) costs nothing here.
//!
//! A tag is the page address, the ASID in bits 2..=9 ([`ASID_SHIFT`]),
//! and, in a write entry for a page holding code, [`CODE_BIT`]; bits 0
//! and 1 are clear, so translated code ([`super::jit`]) checks an
//! access's alignment with the same compare, by keeping the low bits of
//! the address in its key, and its stores leave pages holding code to the
//! slow path by keeping [`CODE_BIT`] in the mask.
//!
//! Every entry maps a whole page inside the memory buffer: an offset whose
//! page would end past the buffer's length (`Xlat::limit`) is never
//! cached. Translated code ([`super::jit`]) relies on that to reach memory
//! with no bounds check of its own.
//!
//! Invalidation rules, applied by the executor: a TLB write flushes the
//! pages the replaced entry covered, under every ASID; a change of mode
//! only switches sets (and drops the fetch entry).

use super::code::NO_SLOT;
use crate::addr::GuestVirtAddr;

/// Entries per set.
pub const SETS_ENTRIES: usize = 256;
/// Number of translation regimes.
pub const REGIMES: usize = 4;
/// A tag that matches no page: page tags are multiples of 4096 plus an
/// 8-bit ASID in bits 2..=9 and [`CODE_BIT`], so bit 11 is never set in a
/// real tag or lookup key.
pub const INVALID_TAG: u32 = 0x800;
/// Where the ASID sits in tags and keys.
pub const ASID_SHIFT: u32 = 2;
/// Set in the tag of a write entry whose page holds code (its
/// `code_slot` is not [`NO_SLOT`]); lookups here ignore it (no mask has
/// it), translated code's stores do not.
pub const CODE_BIT: u32 = 0x400;
/// Mask of an entry valid under one ASID only.
const MASK_ASID: u32 = !CODE_BIT;
/// Mask of an entry valid under every ASID.
const MASK_ANY_ASID: u32 = !(CODE_BIT | (0xff << ASID_SHIFT));

/// One cached translation. `repr(C)`: translated code ([`super::jit`])
/// reads the fields at fixed offsets (0, 4, 8, 12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct XlatEntry {
    /// Virtual page address (`vaddr & !0xfff`) plus the ASID it was
    /// granted under (shifted by [`ASID_SHIFT`]) and, for a write entry of
    /// a page holding code, [`CODE_BIT`]; or [`INVALID_TAG`].
    pub tag: u32,
    /// Which bits of the tag must match: all of them, or all but the ASID
    /// for a translation that holds under every ASID.
    pub mask: u32,
    /// Buffer offset of the page.
    pub base: u32,
    /// For write entries: the page's code-cache slot, [`NO_SLOT`] if none.
    pub code_slot: u32,
}

impl XlatEntry {
    const EMPTY: XlatEntry = XlatEntry {
        tag: INVALID_TAG,
        mask: MASK_ASID,
        base: 0,
        code_slot: NO_SLOT,
    };
}

/// The translation caches.
#[derive(Clone, Debug)]
pub struct Xlat {
    read: Vec<XlatEntry>,
    write: Vec<XlatEntry>,
    /// Offset of the current regime's set in `read`/`write`.
    pub regime_base: usize,
    /// The current ASID, shifted into its place in keys ([`ASID_SHIFT`]):
    /// set with [`Xlat::set_asid`].
    pub asid: u32,
    /// Bytes in the memory buffer the offsets point into: no entry maps a
    /// page that does not end at or before it.
    limit: u64,
    /// Counts the changes to any entry (see [`Xlat::changes`]).
    changes: u64,
}

impl Xlat {
    /// Empty caches for a memory buffer of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            read: vec![XlatEntry::EMPTY; SETS_ENTRIES * REGIMES],
            write: vec![XlatEntry::EMPTY; SETS_ENTRIES * REGIMES],
            regime_base: 0,
            asid: 0,
            limit: limit as u64,
            changes: 0,
        }
    }

    /// How many times an entry changed (filled with something else,
    /// dropped, flushed): while this and the regime and ASID are the same,
    /// every lookup gives the same answer (translated code's chain cells
    /// rely on that).
    #[inline]
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Makes `asid` the current ASID.
    #[inline]
    pub fn set_asid(&mut self, asid: u8) {
        self.asid = u32::from(asid) << ASID_SHIFT;
    }

    /// Whether the page at buffer offset `page_off` lies wholly inside the
    /// buffer (and may be cached).
    #[inline]
    fn inside(&self, page_off: u32) -> bool {
        u64::from(page_off & !0xfff) + 0x1000 <= self.limit
    }

    #[inline]
    fn key(&self, vaddr: u32) -> u32 {
        (vaddr & !0xfff) | self.asid
    }

    #[inline]
    fn entry(&self, vaddr: u32, base: u32, code_slot: u32, any_asid: bool) -> XlatEntry {
        let code = if code_slot == NO_SLOT { 0 } else { CODE_BIT };
        XlatEntry {
            tag: self.key(vaddr) | code,
            mask: if any_asid { MASK_ANY_ASID } else { MASK_ASID },
            base,
            code_slot,
        }
    }

    #[inline]
    fn index(&self, vaddr: u32) -> usize {
        self.regime_base + ((vaddr >> 12) as usize & (SETS_ENTRIES - 1))
    }

    /// Looks up a read translation: the buffer offset of `vaddr`.
    #[inline]
    pub fn read(&self, vaddr: GuestVirtAddr) -> Option<u32> {
        let vaddr = vaddr.raw();
        let e = &self.read[self.index(vaddr)];
        ((e.tag ^ self.key(vaddr)) & e.mask == 0).then(|| e.base + (vaddr & 0xfff))
    }

    /// Looks up a write translation: the buffer offset of `vaddr` and the
    /// page's code slot.
    #[inline]
    pub fn write(&self, vaddr: GuestVirtAddr) -> Option<(u32, u32)> {
        let vaddr = vaddr.raw();
        let e = &self.write[self.index(vaddr)];
        ((e.tag ^ self.key(vaddr)) & e.mask == 0).then(|| (e.base + (vaddr & 0xfff), e.code_slot))
    }

    /// Caches a read translation of `vaddr`'s page to the buffer page at
    /// offset `page_off`, valid under the current ASID or, with
    /// `any_asid`, under every ASID.
    #[inline]
    pub fn fill_read(&mut self, vaddr: GuestVirtAddr, page_off: u32, any_asid: bool) {
        if !self.inside(page_off) {
            return;
        }
        let vaddr = vaddr.raw();
        let i = self.index(vaddr);
        let e = self.entry(vaddr, page_off & !0xfff, NO_SLOT, any_asid);
        if self.read[i] != e {
            self.read[i] = e;
            self.changes += 1;
        }
    }

    /// Caches a write translation (see [`Xlat::fill_read`]).
    #[inline]
    pub fn fill_write(
        &mut self,
        vaddr: GuestVirtAddr,
        page_off: u32,
        code_slot: u32,
        any_asid: bool,
    ) {
        if !self.inside(page_off) {
            return;
        }
        let vaddr = vaddr.raw();
        let i = self.index(vaddr);
        let e = self.entry(vaddr, page_off & !0xfff, code_slot, any_asid);
        if self.write[i] != e {
            self.write[i] = e;
            self.changes += 1;
        }
    }

    /// The current regime's read and write sets, for translated code:
    /// [`SETS_ENTRIES`] entries each, indexed by virtual page number
    /// modulo [`SETS_ENTRIES`].
    pub(crate) fn current_sets(&self) -> (&[XlatEntry], &[XlatEntry]) {
        let range = self.regime_base..self.regime_base + SETS_ENTRIES;
        (&self.read[range.clone()], &self.write[range])
    }

    /// Drops every write entry pointing at the buffer page at offset
    /// `page_off` (its code slot changed).
    pub fn drop_writes_to(&mut self, page_off: u32) {
        self.changes += 1;
        for e in self
            .write
            .iter_mut()
            .filter(|e| e.tag != INVALID_TAG && e.base == page_off)
        {
            *e = XlatEntry::EMPTY;
        }
    }

    /// Drops every entry for virtual pages in `start..start+len`, in every
    /// regime (a TLB entry covering them was replaced).
    pub fn drop_range(&mut self, start: u32, len: u64) {
        self.changes += 1;
        if len > (SETS_ENTRIES as u64) * 4096 {
            self.flush();
            return;
        }
        let pages = len.div_ceil(4096) as u32;
        for p in 0..pages {
            let va = start.wrapping_add(p * 4096);
            for r in 0..REGIMES {
                let i = r * SETS_ENTRIES + ((va >> 12) as usize & (SETS_ENTRIES - 1));
                for set in [&mut self.read, &mut self.write] {
                    if set[i].tag & !0xfff == va & !0xfff {
                        set[i] = XlatEntry::EMPTY;
                    }
                }
            }
        }
    }

    /// Drops everything.
    pub fn flush(&mut self) {
        self.changes += 1;
        self.read.fill(XlatEntry::EMPTY);
        self.write.fill(XlatEntry::EMPTY);
    }
}
