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

/// The byte stores a device sees for a SWL/SWR whose register was
/// shifted into `lanes` (`value`, [`store_left`]/[`store_right`]):
/// `(lane, byte)` for each lane, in the order QEMU's `helper_swl` (`down`:
/// the addressed byte first, then down to the word's start) and
/// `helper_swr` (the addressed byte first, then up to the word's end)
/// make them. So `swl` of 0x44434241 at offset 1 of a UART sends `C` to
/// the transmit register, and `swr` at offsets 1..=3 sends it nothing.
pub fn device_bytes(lanes: u32, value: u32, down: bool) -> impl Iterator<Item = (u32, u8)> {
    let order: [u32; 4] = if down { [3, 2, 1, 0] } else { [0, 1, 2, 3] };
    order
        .into_iter()
        .filter(move |&i| lanes >> (8 * i) & 0xff != 0)
        .map(move |i| (i, (value >> (8 * i)) as u8))
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

    fn bytes(left: bool, k: u32) -> Vec<(u32, u8)> {
        let rt = 0x4443_4241;
        let (v, lanes) = if left {
            store_left(rt, k)
        } else {
            store_right(rt, k)
        };
        device_bytes(lanes, v, left).collect()
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
}
