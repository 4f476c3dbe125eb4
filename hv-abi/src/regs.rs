//! The register convention of a hypercall, as general-purpose register
//! numbers (the convention of KVM's MIPS hypercalls).
//!
//! In: the hypercall number in `v0`, arguments in `a0`..`a3`.
//! Out: the status in `v0` (0 or an [`HvError`](crate::HvError) code) and the
//! value in `v1`. Only `v0` and `v1` are clobbered.

/// `v0` (`$2`): the hypercall number in, the status out.
pub const REG_V0: usize = 2;

/// `v1` (`$3`): the call's value out.
pub const REG_V1: usize = 3;

/// `a0` (`$4`): first argument.
pub const REG_A0: usize = 4;

/// `a1` (`$5`): second argument.
pub const REG_A1: usize = 5;

/// `a2` (`$6`): third argument.
pub const REG_A2: usize = 6;

/// `a3` (`$7`): fourth argument.
pub const REG_A3: usize = 7;

/// The argument registers, in argument order.
pub const ARG_REGS: [usize; 4] = [REG_A0, REG_A1, REG_A2, REG_A3];

/// The registers a hypercall may change: `v0` and `v1`.
pub const CLOBBERED_REGS: [usize; 2] = [REG_V0, REG_V1];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convention_names_the_o32_registers() {
        assert_eq!(ARG_REGS, [4, 5, 6, 7]);
        assert_eq!(CLOBBERED_REGS, [2, 3]);
        assert!(!ARG_REGS.iter().any(|r| CLOBBERED_REGS.contains(r)));
    }
}
