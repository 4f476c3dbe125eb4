//! Loads and stores: sized and aligned accesses, the unaligned-word pairs
//! LWL/LWR/SWL/SWR (little-endian semantics), and LL/SC.

use crate::addr::GuestVirtAddr;
use crate::machine::Machine;
use crate::machine::board::Width;
use crate::machine::decode::Decoded;
use crate::machine::unaligned;

impl Machine {
    #[inline(always)]
    fn ea(&self, d: Decoded) -> GuestVirtAddr {
        GuestVirtAddr::new(self.r(d.rs).wrapping_add(d.imm))
    }

    /// Load Byte (sign-extended).
    #[inline(always)]
    pub(super) fn lb(&mut self, d: Decoded) {
        if let Some(v) = self.load(self.ea(d), 1) {
            self.w(d.rt, v as u8 as i8 as i32 as u32);
        }
    }
    /// Load Byte Unsigned.
    #[inline(always)]
    pub(super) fn lbu(&mut self, d: Decoded) {
        if let Some(v) = self.load(self.ea(d), 1) {
            self.w(d.rt, v & 0xff);
        }
    }
    /// Load Halfword (sign-extended).
    #[inline(always)]
    pub(super) fn lh(&mut self, d: Decoded) {
        if let Some(v) = self.load(self.ea(d), 2) {
            self.w(d.rt, v as u16 as i16 as i32 as u32);
        }
    }
    /// Load Halfword Unsigned.
    #[inline(always)]
    pub(super) fn lhu(&mut self, d: Decoded) {
        if let Some(v) = self.load(self.ea(d), 2) {
            self.w(d.rt, v & 0xffff);
        }
    }
    /// Load Word.
    #[inline(always)]
    pub(super) fn lw(&mut self, d: Decoded) {
        if let Some(v) = self.load(self.ea(d), 4) {
            self.w(d.rt, v);
        }
    }
    /// Load Word Left: the bytes from the addressed byte up to the word's
    /// most significant byte go to the most significant end of `rt`.
    #[inline(always)]
    pub(super) fn lwl(&mut self, d: Decoded) {
        let va = self.ea(d);
        let lanes = unaligned::left_lanes(va.raw());
        if let Some(word) = self.load_lanes(va.align_down(4), lanes) {
            self.w(d.rt, unaligned::load_left(word, self.r(d.rt), va.raw()));
        }
    }
    /// Load Word Right: the bytes from the addressed byte down to the
    /// word's least significant byte go to the least significant end.
    #[inline(always)]
    pub(super) fn lwr(&mut self, d: Decoded) {
        let va = self.ea(d);
        let lanes = unaligned::right_lanes(va.raw());
        if let Some(word) = self.load_lanes(va.align_down(4), lanes) {
            self.w(d.rt, unaligned::load_right(word, self.r(d.rt), va.raw()));
        }
    }
    /// Store Byte.
    #[inline(always)]
    pub(super) fn sb(&mut self, d: Decoded) {
        self.store(self.ea(d), self.r(d.rt), 1);
    }
    /// Store Halfword.
    #[inline(always)]
    pub(super) fn sh(&mut self, d: Decoded) {
        self.store(self.ea(d), self.r(d.rt), 2);
    }
    /// Store Word.
    #[inline(always)]
    pub(super) fn sw(&mut self, d: Decoded) {
        self.store(self.ea(d), self.r(d.rt), 4);
    }
    /// Store Word Left: the most significant bytes of `rt` go to the bytes
    /// from the addressed one down to the word's start.
    #[inline(always)]
    pub(super) fn swl(&mut self, d: Decoded) {
        let va = self.ea(d);
        let (v, lanes) = unaligned::store_left(self.r(d.rt), va.raw());
        self.store_masked(va.align_down(4), v, Width::LanesDown(lanes));
    }
    /// Store Word Right: the least significant bytes of `rt` go to the
    /// bytes from the addressed one up to the word's end.
    #[inline(always)]
    pub(super) fn swr(&mut self, d: Decoded) {
        let va = self.ea(d);
        let (v, lanes) = unaligned::store_right(self.r(d.rt), va.raw());
        self.store_masked(va.align_down(4), v, Width::Lanes(lanes));
    }
    /// Load Linked Word: a load that sets LLbit and LLAddr.
    pub(super) fn ll(&mut self, d: Decoded) {
        let va = self.ea(d);
        if let Some(v) = self.load(va, 4) {
            self.w(d.rt, v);
            self.ll_bit = true;
            self.cp0.lladdr = self.peek_translate(va).unwrap_or(0) >> 4;
        }
    }
    /// Store Conditional Word: stores only if LLbit is still set (no
    /// `eret` since the LL), and writes 1 or 0 to `rt` accordingly.
    pub(super) fn sc(&mut self, d: Decoded) {
        let va = self.ea(d);
        let ok = if self.ll_bit {
            if !self.store(va, self.r(d.rt), 4) {
                return;
            }
            true
        } else if !va.is_aligned(4) {
            // A misaligned SC faults whether or not it would store.
            self.store(va, 0, 4);
            return;
        } else {
            false
        };
        self.ll_bit = false;
        if d.rt != 0 {
            self.w(d.rt, u32::from(ok));
        }
    }
}
