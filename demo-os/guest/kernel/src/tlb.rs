//! The TLB: its size, clearing it, and the few read/probe/write sequences
//! the memory manager needs (the refill handler itself is assembly in
//! `trap.rs`).
//!
//! Every sequence here saves and restores EntryHi, whose ASID field is the
//! current address space, so a caller never changes the running process's
//! ASID by accident. Entries that must stop matching are "parked": given a
//! distinct kseg0 VPN2, which never matches because kseg0 is unmapped (the
//! way Linux invalidates entries), so no two entries can ever match one
//! address.
//!
//! These functions are safe: the kernel runs in kseg0 and never uses
//! mapped addresses itself, so no TLB content can change what a kernel
//! reference points at; a wrong entry can only misdirect user accesses.

use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::cp0;
use crate::pv::{self, Pv, TlbWrite};

/// EntryHi's VPN2 field (bits 31..13).
pub const ENTRY_HI_VPN2: u32 = 0xFFFF_E000;

/// EntryHi's ASID field (bits 7..0).
pub const ENTRY_HI_ASID: u32 = 0xFF;

/// Index: set by `tlbp` when no entry matched.
const INDEX_P: u32 = 1 << 31;

/// The number of TLB entries (Config1.MMUSize + 1).
#[must_use]
pub fn entries() -> u32 {
    ((cp0::config1() >> 25) & 0x3F) + 1
}

/// The number of TLB entries, read once (paravirtualized paths).
static SIZE: AtomicU32 = AtomicU32::new(0);

/// [`entries`], read from Config1 the first time only.
fn size() -> u32 {
    match SIZE.load(Ordering::Relaxed) {
        0 => {
            let n = entries();
            SIZE.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// The ASIDs whose address space died without its TLB entries being
/// removed (paravirtualized path, see [`retire_asid`]), one bit each.
static STALE_ASIDS: [AtomicU32; 8] = [const { AtomicU32::new(0) }; 8];

/// The EntryHi that parks entry `index`: a VPN2 in kseg0, distinct for
/// each index.
const fn parked_hi(index: u32) -> u32 {
    0x8000_0000 + (index << 13)
}

/// Makes every entry match nothing and resets Wired and PageMask; the
/// current ASID becomes 0.
pub fn clear_all() {
    cp0::set_wired(0);
    cp0::set_page_mask(0);
    for index in 0..entries() {
        write_indexed(index, parked_hi(index), 0, 0);
    }
    cp0::set_entry_hi(0);
}

/// [`clear_all`] with one `TlbInstallBatch` for the entries; false (having
/// changed nothing the fallback would not redo) if the monitor refused.
pub fn clear_all_batched(pv: &Pv) -> bool {
    cp0::set_wired(0);
    cp0::set_page_mask(0);
    let cleared = park_all_batched(pv);
    cp0::set_entry_hi(0);
    cleared
}

/// Parks every entry (Wired is 0) with one `TlbInstallBatch`: cheaper
/// under the monitor than finding the few entries to park, each `tlbp` or
/// `tlbr` being a trap. Every retired ASID is clean afterwards. False if
/// the monitor refused; the caller then parks what it must itself.
pub fn park_all_batched(pv: &Pv) -> bool {
    let mut writes = [TlbWrite::default(); 64];
    let count = (size() as usize).min(writes.len());
    for (index, write) in (0..).zip(writes.iter_mut().take(count)) {
        *write = TlbWrite {
            hi: parked_hi(index),
            lo0: 0,
            lo1: 0,
            slot: Some(index),
        };
    }
    let parked = pv.tlb_install(&writes[..count]);
    if parked {
        for word in &STALE_ASIDS {
            word.store(0, Ordering::Relaxed);
        }
    }
    parked
}

/// Records that the address space tagged `asid` died with its entries
/// left in the TLB (the paravirtualized path skips [`flush_asid`]'s
/// `tlbr` of every entry): they match no access while no space uses the
/// ASID, and [`take_stale`] says to remove them before it is used again.
pub fn retire_asid(asid: u8) {
    STALE_ASIDS[usize::from(asid / 32)].fetch_or(1 << (asid % 32), Ordering::Relaxed);
}

/// Tells whether `asid` was retired with entries left (and forgets it):
/// the caller must remove them before giving the ASID out.
pub fn take_stale(asid: u8) -> bool {
    let bit = 1 << (asid % 32);
    STALE_ASIDS[usize::from(asid / 32)].fetch_and(!bit, Ordering::Relaxed) & bit != 0
}

/// Sets the ASID of user accesses (EntryHi.ASID).
pub fn set_asid(asid: u8) {
    cp0::set_entry_hi(u32::from(asid));
}

/// Writes entry `index` (`tlbwi`) with PageMask 0 (4 KiB pages).
fn write_indexed(index: u32, hi: u32, lo0: u32, lo1: u32) {
    let saved = cp0::entry_hi();
    cp0::set_index(index);
    cp0::set_entry_hi(hi);
    cp0::set_entry_lo0(lo0);
    cp0::set_entry_lo1(lo1);
    // SAFETY: tlbwi writes the entry staged above; see the module doc for
    // why no TLB content can affect kernel memory.
    unsafe { asm!("tlbwi", "ehb", options(nostack, preserves_flags)) }
    cp0::set_entry_hi(saved);
}

/// Writes a random entry at or above Wired (`tlbwr`).
fn write_random(hi: u32, lo0: u32, lo1: u32) {
    let saved = cp0::entry_hi();
    cp0::set_entry_hi(hi);
    cp0::set_entry_lo0(lo0);
    cp0::set_entry_lo1(lo1);
    // SAFETY: as in `write_indexed`.
    unsafe { asm!("tlbwr", "ehb", options(nostack, preserves_flags)) }
    cp0::set_entry_hi(saved);
}

/// Finds the entry matching `hi` (VPN2 and ASID), with `tlbp`.
#[must_use]
pub fn probe(hi: u32) -> Option<u32> {
    if let Some(current) = pv::shared_entry_hi() {
        return probe_shared(hi, current);
    }
    let saved = cp0::entry_hi();
    cp0::set_entry_hi(hi);
    // SAFETY: tlbp only searches the TLB and writes Index.
    unsafe { asm!("tlbp", "ehb", options(nostack, preserves_flags)) }
    let index = cp0::index();
    cp0::set_entry_hi(saved);
    (index & INDEX_P == 0).then_some(index)
}

/// [`probe`] with EntryHi and Index read from the monitor's shared page:
/// only the `tlbp`, and the EntryHi write when `hi` is not there already
/// (after a TLB exception EntryHi holds the faulting pair), trap. EntryHi
/// is restored only if the ASID differed: its VPN2 does not affect
/// translation, and every TLB exception rewrites it.
fn probe_shared(hi: u32, current: u32) -> Option<u32> {
    if current != hi {
        cp0::set_entry_hi(hi);
    }
    // SAFETY: tlbp only searches the TLB and writes Index.
    unsafe { asm!("tlbp", "ehb", options(nostack, preserves_flags)) }
    // The tlbp trapped, so the page holds the Index it wrote.
    let index = pv::shared_index().unwrap_or_else(cp0::index);
    if (current ^ hi) & ENTRY_HI_ASID != 0 {
        cp0::set_entry_hi(current);
    }
    (index & INDEX_P == 0).then_some(index)
}

/// Reads entry `index` (`tlbr`): its EntryHi.
fn read_hi(index: u32) -> u32 {
    let saved = cp0::entry_hi();
    cp0::set_index(index);
    // SAFETY: tlbr copies the entry into EntryHi/EntryLo0/EntryLo1/PageMask,
    // which are restored or rewritten before any further TLB use.
    unsafe { asm!("tlbr", "ehb", options(nostack, preserves_flags)) }
    let hi = cp0::entry_hi();
    cp0::set_entry_hi(saved);
    hi
}

/// Brings the entry for the pair at `hi` up to date with the page table
/// after the pair's PTEs `lo0`/`lo1` changed: rewrites a matching entry,
/// or parks it when neither page is valid any more. With `insert`, a pair
/// not in the TLB is written to a random entry (when a page is valid).
pub fn update(hi: u32, lo0: u32, lo1: u32, insert: bool) {
    let valid = (lo0 | lo1) & crate::mm::PTE_V != 0;
    match probe(hi) {
        Some(index) if valid => write_indexed(index, hi, lo0, lo1),
        Some(index) => write_indexed(index, parked_hi(index), 0, 0),
        None if valid && insert => write_random(hi, lo0, lo1),
        None => {}
    }
}

/// Parks every non-global entry of address space `asid`, so the ASID can
/// be given to a new process.
pub fn flush_asid(asid: u8) {
    for index in 0..entries() {
        let hi = read_hi(index);
        if hi & ENTRY_HI_ASID == u32::from(asid) && hi & 0x8000_0000 == 0 {
            write_indexed(index, parked_hi(index), 0, 0);
        }
    }
}
