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

use crate::cp0;

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
    let saved = cp0::entry_hi();
    cp0::set_entry_hi(hi);
    // SAFETY: tlbp only searches the TLB and writes Index.
    unsafe { asm!("tlbp", "ehb", options(nostack, preserves_flags)) }
    let index = cp0::index();
    cp0::set_entry_hi(saved);
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
