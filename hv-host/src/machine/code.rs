//! The decoded-instruction cache: for each physical page of memory that has
//! been executed from, a slot of 1024 [`Decoded`] records, filled lazily on
//! first execution of each word.
//!
//! Stores keep it coherent: a store to a page that has a slot resets the
//! stored word's record to [`Decoded::UNDECODED`], so self-modifying code
//! and loaders that write code (a kernel loading a user program) work with
//! no flush instruction.

use super::bus::PAGE_SIZE;
use super::decode::Decoded;

/// Marker in `slot_of` for a page with no slot.
pub const NO_SLOT: u32 = u32::MAX;
/// Records per page.
pub const WORDS_PER_PAGE: usize = (PAGE_SIZE / 4) as usize;

/// One page of decoded records.
pub type CodePage = [Decoded; WORDS_PER_PAGE];

/// The cache, indexed by memory-buffer page number.
#[derive(Clone, Debug)]
pub struct CodeCache {
    slot_of: Vec<u32>,
    pages: Vec<Box<CodePage>>,
}

impl CodeCache {
    /// An empty cache for a memory buffer of `mem_bytes`.
    pub fn new(mem_bytes: usize) -> Self {
        Self {
            slot_of: vec![NO_SLOT; mem_bytes / PAGE_SIZE as usize],
            pages: Vec::new(),
        }
    }

    /// The slot of the page at buffer offset `off`, if it has one.
    #[inline]
    pub fn slot(&self, off: u32) -> u32 {
        self.slot_of
            .get((off / PAGE_SIZE) as usize)
            .copied()
            .unwrap_or(NO_SLOT)
    }

    /// The slot of the page at buffer offset `off`, allocated if needed.
    pub fn slot_or_alloc(&mut self, off: u32) -> u32 {
        let page = (off / PAGE_SIZE) as usize;
        let s = self.slot_of[page];
        if s != NO_SLOT {
            return s;
        }
        let s = self.pages.len() as u32;
        self.pages
            .push(Box::new([Decoded::UNDECODED; WORDS_PER_PAGE]));
        self.slot_of[page] = s;
        s
    }

    /// The record for word number `index` (0..1024) of slot `slot`.
    #[inline]
    pub fn get(&self, slot: u32, index: u32) -> Decoded {
        self.pages[slot as usize][(index as usize) & (WORDS_PER_PAGE - 1)]
    }

    /// Stores a decoded record.
    #[inline]
    pub fn set(&mut self, slot: u32, index: u32, d: Decoded) {
        self.pages[slot as usize][(index as usize) & (WORDS_PER_PAGE - 1)] = d;
    }

    /// Forgets the record of the word at buffer offset `off` after a store.
    #[inline]
    pub fn invalidate(&mut self, slot: u32, off: u32) {
        self.set(slot, (off % PAGE_SIZE) / 4, Decoded::UNDECODED);
    }

    /// Forgets the records of every word in buffer range `off..off+len`
    /// (the host wrote there).
    pub fn invalidate_range(&mut self, off: u32, len: u32) {
        let end = u64::from(off) + u64::from(len);
        let mut page = u64::from(off) & !u64::from(PAGE_SIZE - 1);
        while page < end {
            let slot = self.slot(page as u32);
            if slot != NO_SLOT {
                let from = u64::from(off).max(page);
                let to = end.min(page + u64::from(PAGE_SIZE));
                let words = &mut self.pages[slot as usize];
                let (a, b) = (
                    ((from - page) / 4) as usize,
                    (to - page).div_ceil(4) as usize,
                );
                words[a..b].fill(Decoded::UNDECODED);
            }
            page += u64::from(PAGE_SIZE);
        }
    }

    /// Forgets everything (after a bulk write to memory by the host).
    pub fn clear(&mut self) {
        self.slot_of.fill(NO_SLOT);
        self.pages.clear();
    }
}
