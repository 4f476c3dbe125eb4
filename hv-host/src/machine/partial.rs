//! The unaligned-word pairs (`lwl`/`lwr`/`swl`/`swr`, little-endian) as
//! accesses: the one definition of which bytes they touch and, for a
//! device, which accesses it sees. Used by the machine's executor and by
//! the monitor when it emulates such an access to a device.
//!
//! In memory a partial-word store is a masked write of the aligned word
//! ([`PartialStore::masked`]); a device instead sees **byte stores of the
//! covered bytes only**, in the order QEMU's `helper_swl`/`helper_swr`
//! make them ([`PartialStore::device_bytes`]): for `swl` at byte offset
//! `k` the byte at the address first (the register's most significant
//! byte), then downwards to the word's start; for `swr` the byte at the
//! address first (the least significant byte), then upwards to the word's
//! end. So `swl` of 0x44434241 at offset 1 of a UART sends `C` to the
//! transmit register (and `D` to the next register), and `swr` at offsets
//! 1..=3 sends nothing to it. A partial-word load reads the aligned word
//! with one access of size 4 ([`partial_load`] merges it), as QEMU does.

use crate::addr::GuestVirtAddr;

/// A `swl` (`left`) or `swr` of `rt` at a (possibly unaligned) address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartialStore {
    /// `swl` rather than `swr`.
    pub left: bool,
    /// The effective address.
    pub va: GuestVirtAddr,
    /// The register's value.
    pub rt: u32,
}

impl PartialStore {
    /// The aligned word the store falls in.
    pub fn word(&self) -> GuestVirtAddr {
        self.va.align_down(4)
    }

    /// The store as a masked write of the aligned word: `(value, mask)`,
    /// the bits of `value` under `mask` replace the word's.
    pub fn masked(&self) -> (u32, u32) {
        let k = self.va.raw() & 3;
        if self.left {
            let shift = 8 * (3 - k);
            (self.rt >> shift, u32::MAX >> shift)
        } else {
            let shift = 8 * k;
            (self.rt << shift, u32::MAX << shift)
        }
    }

    /// The byte stores a device sees, in order: `(offset in the word,
    /// byte)`.
    pub fn device_bytes(&self) -> impl Iterator<Item = (u32, u8)> + use<> {
        let k = self.va.raw() & 3;
        let rt = self.rt;
        let left = self.left;
        let n = if left { k + 1 } else { 4 - k };
        (0..n).map(move |j| {
            if left {
                // Offset k - j takes the byte 3 - j of the register.
                (k - j, (rt >> (8 * (3 - j))) as u8)
            } else {
                // Offset k + j takes the byte j of the register.
                (k + j, (rt >> (8 * j)) as u8)
            }
        })
    }
}

/// What `lwl` (`left`) or `lwr` at `va` leaves in its register, given the
/// aligned word read (`word`) and the register's old value.
pub fn partial_load(left: bool, va: GuestVirtAddr, word: u32, old: u32) -> u32 {
    let k = va.raw() & 3;
    if left {
        let shift = 8 * (3 - k);
        let keep = if shift == 0 {
            0
        } else {
            u32::MAX >> (32 - shift)
        };
        (word << shift) | (old & keep)
    } else {
        let shift = 8 * k;
        let keep = if shift == 0 { 0 } else { !(u32::MAX >> shift) };
        (word >> shift) | (old & keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(left: bool, k: u32) -> Vec<(u32, u8)> {
        PartialStore {
            left,
            va: GuestVirtAddr::new(0xbfd0_03f8 + k),
            rt: 0x4443_4241,
        }
        .device_bytes()
        .collect()
    }

    #[test]
    fn device_byte_stores_follow_qemu() {
        // swl: the byte at the address first, from the top of rt down.
        assert_eq!(bytes(true, 0), [(0, b'D')]);
        assert_eq!(bytes(true, 1), [(1, b'D'), (0, b'C')]);
        assert_eq!(bytes(true, 3), [(3, b'D'), (2, b'C'), (1, b'B'), (0, b'A')]);
        // swr: the byte at the address first, from the bottom of rt up.
        assert_eq!(
            bytes(false, 0),
            [(0, b'A'), (1, b'B'), (2, b'C'), (3, b'D')]
        );
        assert_eq!(bytes(false, 1), [(1, b'A'), (2, b'B'), (3, b'C')]);
        assert_eq!(bytes(false, 3), [(3, b'A')]);
    }

    #[test]
    fn masked_write_and_device_bytes_agree() {
        for left in [true, false] {
            for k in 0..4 {
                let s = PartialStore {
                    left,
                    va: GuestVirtAddr::new(0x1000 + k),
                    rt: 0x8877_6655,
                };
                let (v, mask) = s.masked();
                let mut word = 0x1122_3344u32.to_le_bytes();
                for (off, b) in s.device_bytes() {
                    word[off as usize] = b;
                }
                assert_eq!(u32::from_le_bytes(word), (0x1122_3344 & !mask) | (v & mask));
            }
        }
    }

    #[test]
    fn partial_loads_merge_little_endian() {
        let w = 0x4443_4241;
        let va = |k: u32| GuestVirtAddr::new(0x1000 + k);
        assert_eq!(partial_load(true, va(0), w, 0xaabb_ccdd), 0x41bb_ccdd);
        assert_eq!(partial_load(true, va(3), w, 0xaabb_ccdd), w);
        assert_eq!(partial_load(false, va(0), w, 0xaabb_ccdd), w);
        assert_eq!(partial_load(false, va(3), w, 0xaabb_ccdd), 0xaabb_cc44);
    }
}
