//! Seeded random guest code, shared by the tests that feed the machine
//! and the monitor untrusted instructions: a small deterministic
//! generator and instruction words biased towards the interesting major
//! opcodes.

/// xorshift64*: a small deterministic generator.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, zero included).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    /// A random value below `n` (`n` > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        self.next_u32() % n
    }
}

/// Major opcodes worth hitting more often than uniform words would:
/// SPECIAL, REGIMM, branches, immediates, COP0, SPECIAL2/3, loads, stores.
const BIASED_OPCODES: [u32; 16] = [
    0x00, 0x01, 0x04, 0x05, 0x09, 0x0f, 0x10, 0x10, 0x10, 0x1c, 0x1f, 0x23, 0x2b, 0x22, 0x2e, 0x30,
];

/// One random instruction word: uniform half of the time, else with a
/// major opcode from the biased list.
pub fn word(rng: &mut Rng) -> u32 {
    let w = rng.next_u32();
    if rng.next_u32().is_multiple_of(2) {
        w
    } else {
        let op = BIASED_OPCODES[(rng.next_u32() % 16) as usize];
        (w & 0x03ff_ffff) | (op << 26)
    }
}

/// `words` random instruction words.
pub fn words(rng: &mut Rng, words: usize) -> Vec<u32> {
    (0..words).map(|_| word(rng)).collect()
}

/// `words` random instruction words as little-endian bytes.
pub fn code(rng: &mut Rng, words: usize) -> Vec<u8> {
    self::words(rng, words)
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
}
