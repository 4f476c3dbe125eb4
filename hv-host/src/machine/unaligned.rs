//! The unaligned-word pairs LWL/LWR/SWL/SWR, little-endian: which byte
//! lanes of the aligned word they touch, how a store shifts its register
//! into them, how a load merges the word into its register. The machine's
//! instructions and the monitor's emulation of a trapped one both use
//! these; what a device sees of such an access is the board's rule
//! ([`super::board::Board::load`]).

/// The shift that lines the register up for LWL/SWL at `addr`: the
/// register's most significant bytes go to the bytes from the word's start
/// up to the addressed one.
#[inline]
const fn left_shift(addr: u32) -> u32 {
    8 * (3 - (addr & 3))
}

/// The shift for LWR/SWR at `addr`: the register's least significant bytes
/// go to the bytes from the addressed one up to the word's end.
#[inline]
const fn right_shift(addr: u32) -> u32 {
    8 * (addr & 3)
}

/// The lanes LWL/SWL at `addr` touch.
#[inline]
pub const fn left_lanes(addr: u32) -> u32 {
    u32::MAX >> left_shift(addr)
}

/// The lanes LWR/SWR at `addr` touch.
#[inline]
pub const fn right_lanes(addr: u32) -> u32 {
    u32::MAX << right_shift(addr)
}

/// LWL at `addr`: the register after merging the aligned `word` into
/// `old`.
#[inline]
pub const fn load_left(word: u32, old: u32, addr: u32) -> u32 {
    let shift = left_shift(addr);
    let keep = if shift == 0 {
        0
    } else {
        u32::MAX >> (32 - shift)
    };
    (word << shift) | (old & keep)
}

/// LWR at `addr`: the register after merging the aligned `word` into
/// `old`.
#[inline]
pub const fn load_right(word: u32, old: u32, addr: u32) -> u32 {
    let shift = right_shift(addr);
    let keep = if shift == 0 { 0 } else { !(u32::MAX >> shift) };
    (word >> shift) | (old & keep)
}

/// SWL at `addr` of register value `reg`: the value in its lanes, and the
/// lanes ([`left_lanes`]).
#[inline]
pub const fn store_left(reg: u32, addr: u32) -> (u32, u32) {
    (reg >> left_shift(addr), left_lanes(addr))
}

/// SWR at `addr` of register value `reg`: the value in its lanes, and the
/// lanes ([`right_lanes`]).
#[inline]
pub const fn store_right(reg: u32, addr: u32) -> (u32, u32) {
    (reg << right_shift(addr), right_lanes(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_and_merges() {
        assert_eq!(left_lanes(0), 0x0000_00ff);
        assert_eq!(left_lanes(3), u32::MAX);
        assert_eq!(right_lanes(0), u32::MAX);
        assert_eq!(right_lanes(3), 0xff00_0000);
        let word = 0x4433_2211;
        assert_eq!(load_left(word, 0xaabb_ccdd, 1), 0x2211_ccdd);
        assert_eq!(load_right(word, 0xaabb_ccdd, 1), 0xaa44_3322);
        assert_eq!(load_left(word, 0, 3), word);
        assert_eq!(load_right(word, 0, 0), word);
        assert_eq!(store_left(0x4433_2211, 1), (0x4433, 0xffff));
        assert_eq!(store_right(0x4433_2211, 1), (0x3322_1100, 0xffff_ff00));
    }
}
