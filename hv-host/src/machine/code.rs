//! The decoded-instruction cache: for each physical page of memory that has
//! been executed from, a slot of 1024 [`Decoded`] records, filled lazily on
//! first execution of each word.
//!
//! Stores keep it coherent: a store to a page that has a slot resets the
//! stored word's record to [`Decoded::UNDECODED`], so self-modifying code
//! and loaders that write code (a kernel loading a user program) work with
//! no flush instruction.
//!
//! The same write tracking keeps the translated blocks of the second tier
//! ([`super::jit`]) valid: each slot has a bitmap of the words that
//! translated blocks were made from and a *generation*. A store to one of
//! those words (by the guest or the host) bumps the page's generation,
//! which makes every block translated from the page stale; a stale block
//! is never entered again. A block that runs on into the next page is
//! valid for its first page's generation only: the next page's slot is
//! *linked* to the first ([`CodeCache::link`]), and a store to a word
//! translated in the next page bumps the generation of every slot linked
//! to it too. [`CodeCache::clear`] bumps the cache's epoch,
//! which the translator checks to drop everything.

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
    /// Per slot: the words translated blocks were made from.
    translated: Vec<[u64; WORDS_PER_PAGE / 64]>,
    /// Per slot: the generation of its translated blocks.
    generation: Vec<u32>,
    /// Per slot: the slots whose blocks hold words of this one (see
    /// [`CodeCache::link`]).
    links: Vec<Vec<u32>>,
    /// Bumped by [`CodeCache::clear`].
    epoch: u64,
    /// See [`CodeCache::changes`].
    changes: u64,
}

impl CodeCache {
    /// An empty cache for a memory buffer of `mem_bytes`.
    pub fn new(mem_bytes: usize) -> Self {
        Self {
            slot_of: vec![NO_SLOT; mem_bytes / PAGE_SIZE as usize],
            pages: Vec::new(),
            translated: Vec::new(),
            generation: Vec::new(),
            links: Vec::new(),
            epoch: 0,
            changes: 0,
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
        self.translated.push([0; WORDS_PER_PAGE / 64]);
        self.generation.push(0);
        self.links.push(Vec::new());
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

    /// Forgets the record of the word at buffer offset `off` after a store,
    /// and makes the page's translated blocks stale if the word is part of
    /// one.
    #[inline]
    pub fn invalidate(&mut self, slot: u32, off: u32) {
        let word = (off % PAGE_SIZE) / 4;
        self.set(slot, word, Decoded::UNDECODED);
        self.forget_translated(slot, word, word + 1);
    }

    /// Makes the blocks of `slot` stale if any of words `from..to` was
    /// translated.
    #[inline]
    fn forget_translated(&mut self, slot: u32, from: u32, to: u32) {
        let Some(bits) = self.translated.get_mut(slot as usize) else {
            return;
        };
        let hit = (from..to).any(|w| bits[(w / 64) as usize & 15] & (1 << (w % 64)) != 0);
        if hit {
            self.make_stale(slot);
        }
    }

    /// Makes the blocks of `slot`, and of the slots linked to it, stale
    /// (out of line: the stores of the interpreter's hot path only test
    /// for it).
    #[cold]
    #[inline(never)]
    fn make_stale(&mut self, slot: u32) {
        self.changes += 1;
        let s = slot as usize;
        if let Some(bits) = self.translated.get_mut(s) {
            *bits = [0; WORDS_PER_PAGE / 64];
        }
        if let Some(g) = self.generation.get_mut(s) {
            *g = g.wrapping_add(1);
        }
        // The blocks of the linked slots hold words of this one: they are
        // stale too. (Their own translated words stay marked: blocks of
        // other slots may hold them.)
        let links = self
            .links
            .get_mut(s)
            .map(core::mem::take)
            .unwrap_or_default();
        for l in links {
            if let Some(g) = self.generation.get_mut(l as usize) {
                *g = g.wrapping_add(1);
            }
        }
    }

    /// Records that blocks of slot `to` hold translated words of slot
    /// `from` (marked with [`CodeCache::mark_translated`]): a store to
    /// one of those makes the blocks of `to` stale as well.
    pub fn link(&mut self, from: u32, to: u32) {
        if from == to {
            return;
        }
        if let Some(l) = self.links.get_mut(from as usize)
            && !l.contains(&to)
        {
            l.push(to);
        }
    }

    /// Records that a block was translated from words `from..to` (word
    /// indices in the page) of `slot`; returns the page's generation, which
    /// the block is valid for.
    pub fn mark_translated(&mut self, slot: u32, from: u32, to: u32) -> u32 {
        let bits = &mut self.translated[slot as usize];
        for w in from..to.min(WORDS_PER_PAGE as u32) {
            bits[(w / 64) as usize] |= 1 << (w % 64);
        }
        self.generation[slot as usize]
    }

    /// The generation of `slot`'s translated blocks.
    #[inline]
    pub fn generation(&self, slot: u32) -> u32 {
        self.generation
            .get(slot as usize)
            .copied()
            .unwrap_or(u32::MAX)
    }

    /// The slot of every page of the memory buffer, [`NO_SLOT`] for a
    /// page with none (translated code reads it to leave stores to pages
    /// holding code to the interpreter).
    #[inline]
    pub fn slot_table(&self) -> &[u32] {
        &self.slot_of
    }

    /// The generation of every slot (translated code reads them to chain
    /// blocks).
    #[inline]
    pub fn generations(&self) -> &[u32] {
        &self.generation
    }

    /// How many times the cache was cleared.
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// How many times any slot's generation changed or the cache was
    /// cleared (translated code's chain cells rely on it: see
    /// `jit::translate::ChainCell`).
    #[inline]
    pub fn changes(&self) -> u64 {
        self.changes
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
                self.forget_translated(slot, a as u32, b as u32);
            }
            page += u64::from(PAGE_SIZE);
        }
    }

    /// Forgets everything (after a bulk write to memory by the host).
    pub fn clear(&mut self) {
        self.slot_of.fill(NO_SLOT);
        self.pages.clear();
        self.translated.clear();
        self.generation.clear();
        self.links.clear();
        self.epoch += 1;
        self.changes += 1;
    }
}
