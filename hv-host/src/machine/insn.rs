//! The raw instruction word and its fields, named after the MIPS32 manual
//! (Volume II, "Instruction Formats"), and the general-purpose register
//! newtype with its ABI names.

use core::fmt;

/// A raw 32-bit MIPS32 instruction word.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[repr(transparent)]
pub struct Instruction(pub u32);

impl Instruction {
    /// The whole word.
    #[inline]
    pub const fn word(self) -> u32 {
        self.0
    }
    /// Major opcode, bits 31..26.
    #[inline]
    pub const fn opcode(self) -> u32 {
        self.0 >> 26
    }
    /// `rs` field, bits 25..21 (also the COPz sub-opcode).
    #[inline]
    pub const fn rs(self) -> u8 {
        ((self.0 >> 21) & 0x1f) as u8
    }
    /// `rt` field, bits 20..16 (also the REGIMM sub-opcode).
    #[inline]
    pub const fn rt(self) -> u8 {
        ((self.0 >> 16) & 0x1f) as u8
    }
    /// `rd` field, bits 15..11.
    #[inline]
    pub const fn rd(self) -> u8 {
        ((self.0 >> 11) & 0x1f) as u8
    }
    /// `sa` (shift amount) field, bits 10..6.
    #[inline]
    pub const fn sa(self) -> u32 {
        (self.0 >> 6) & 0x1f
    }
    /// `function` field, bits 5..0.
    #[inline]
    pub const fn funct(self) -> u32 {
        self.0 & 0x3f
    }
    /// 16-bit immediate, zero-extended.
    #[inline]
    pub const fn imm(self) -> u32 {
        self.0 & 0xffff
    }
    /// 16-bit immediate, sign-extended.
    #[inline]
    pub const fn imm_se(self) -> u32 {
        self.0 as u16 as i16 as i32 as u32
    }
    /// Branch offset in bytes: the sign-extended immediate shifted left by 2.
    #[inline]
    pub const fn branch_offset(self) -> u32 {
        self.imm_se() << 2
    }
    /// 26-bit jump target index, shifted left by 2.
    #[inline]
    pub const fn target(self) -> u32 {
        (self.0 & 0x03ff_ffff) << 2
    }
    /// CP0 register select field (`sel`), bits 2..0 of MFC0/MTC0.
    #[inline]
    pub const fn sel(self) -> u8 {
        (self.0 & 7) as u8
    }
    /// 20-bit code field of SYSCALL, BREAK and SDBBP, bits 25..6.
    #[inline]
    pub const fn code20(self) -> u32 {
        (self.0 >> 6) & 0xf_ffff
    }
    /// 10-bit code field of the conditional trap instructions, bits 15..6.
    #[inline]
    pub const fn code10(self) -> u32 {
        (self.0 >> 6) & 0x3ff
    }
}

impl fmt::Debug for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instruction({:#010x}: {})", self.0, self)
    }
}

/// A general-purpose register number, 0..=31.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Reg(u8);

impl Reg {
    /// The register with number `n`; `None` above 31.
    pub const fn new(n: u8) -> Option<Self> {
        if n < 32 { Some(Self(n)) } else { None }
    }
    /// The register number, 0..=31.
    pub const fn num(self) -> u8 {
        self.0
    }
    /// The register's ABI name (`zero`, `at`, `v0`, ...).
    pub const fn name(self) -> &'static str {
        regs::NAMES[self.0 as usize]
    }
}

impl fmt::Debug for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.name())
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Register numbers by ABI name (`regs::A0` is 4), for code that indexes
/// registers, and their names (`regs::NAMES`): `hv-abi`'s table.
pub use hv_abi::regs;

/// The general-purpose registers as [`Reg`]s by ABI name (`gpr::A0`), and
/// by number ([`gpr::GPRS`]), built from `hv-abi`'s table.
pub mod gpr {
    use super::Reg;

    macro_rules! typed {
        ($($name:ident = $n:literal, $abi:literal, $what:literal;)*) => {
            $(
                #[doc = concat!("`$", $abi, "`, ", $what, ".")]
                pub const $name: Reg = Reg($n);
            )*

            /// The general-purpose registers by number, `GPRS[n]` being
            /// register `n`.
            pub const GPRS: [Reg; 32] = [$($name),*];
        };
    }

    hv_abi::gpr_table!(typed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        // addiu $sp, $sp, -16 = 0x27bdfff0
        let i = Instruction(0x27bd_fff0);
        assert_eq!(i.opcode(), 9);
        assert_eq!(i.rs(), 29);
        assert_eq!(i.rt(), 29);
        assert_eq!(i.imm_se(), (-16i32) as u32);
        assert_eq!(i.imm(), 0xfff0);
        assert_eq!(Reg::new(31).map(Reg::name), Some("ra"));
        assert_eq!(Reg::new(32), None);
    }
}
