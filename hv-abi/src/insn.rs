//! The hypercall instruction: the MIPS VZ `HYPCALL` encoding and how to
//! recognise it in a fetched instruction word.
//!
//! `HYPCALL` is a COP0 instruction: `opcode` = `010000` (COP0), bit 25
//! (`CO`) = 1, bits 24..21 = 0, bits 20..11 = `code`, bits 10..6 = 0 and
//! `funct` = `101000` (0x28). This interface uses code 0 only: a monitor
//! answers a `HYPCALL` with a nonzero code with
//! [`HvError::UnknownCall`](crate::HvError::UnknownCall).

/// The hypercall instruction word: `HYPCALL` with code field 0.
pub const HYPCALL: u32 = 0x4200_0028;

/// The bits that identify a `HYPCALL` whatever its code field.
pub const HYPCALL_MASK: u32 = 0xFFE0_07FF;

/// The bits of the `code` field (bits 20..11).
pub const HYPCALL_CODE_MASK: u32 = 0x001F_F800;

/// The shift of the `code` field.
pub const HYPCALL_CODE_SHIFT: u32 = 11;

/// Tells whether `insn` is a `HYPCALL`, with any code field.
///
/// A guest's Reserved Instruction handler uses this to recognise a
/// hypercall made on bare hardware (see `hv-guest`'s detection protocol);
/// the monitor's decoder uses it too.
#[must_use]
pub const fn is_hypcall(insn: u32) -> bool {
    insn & HYPCALL_MASK == HYPCALL
}

/// The `code` field of a `HYPCALL` word (meaningless for other words).
#[must_use]
pub const fn hypcall_code(insn: u32) -> u32 {
    (insn & HYPCALL_CODE_MASK) >> HYPCALL_CODE_SHIFT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypcall_fields_match_the_manual() {
        assert_eq!(HYPCALL >> 26, 0b01_0000, "opcode is COP0");
        assert_eq!((HYPCALL >> 25) & 1, 1, "CO bit set");
        assert_eq!(HYPCALL & 0x3F, 0x28, "funct is HYPCALL");
        assert_eq!(hypcall_code(HYPCALL), 0);
        assert_eq!(HYPCALL_MASK & HYPCALL_CODE_MASK, 0);
        assert_eq!(HYPCALL_MASK | HYPCALL_CODE_MASK, u32::MAX);
    }

    #[test]
    fn recognises_any_code_and_nothing_else() {
        assert!(is_hypcall(HYPCALL));
        let with_code = HYPCALL | (0x155 << HYPCALL_CODE_SHIFT);
        assert!(is_hypcall(with_code));
        assert_eq!(hypcall_code(with_code), 0x155);
        // ERET, WAIT, TLBWI, SYSCALL and a NOP are not hypercalls.
        for insn in [0x4200_0018, 0x4200_0020, 0x4200_0002, 0x0000_000C, 0] {
            assert!(!is_hypcall(insn), "{insn:#010x}");
        }
        // A set bit outside the code field disqualifies the word.
        assert!(!is_hypcall(HYPCALL | 1 << 6));
        assert!(!is_hypcall(HYPCALL | 1 << 21));
    }
}
