//! General-purpose register numbers, and the register convention of a
//! hypercall.
//!
//! [`gpr_table!`](crate::gpr_table) is the one table of the 32 register
//! numbers and ABI names: it defines this module's numbers ([`A0`],
//! [`SP`], ..., as `u8`, the width of an instruction's register field) and
//! [`NAMES`], and `hv-host` builds its typed registers from the same table.
//!
//! A hypercall (the convention of KVM's MIPS hypercalls): in, the
//! hypercall number in `v0`, arguments in `a0`..`a3`; out, the status in
//! `v0` (0 or an [`HvError`](crate::HvError) code) and the value in `v1`.
//! Only `v0` and `v1` are clobbered.

/// Calls macro `$m` with the table of the general-purpose registers, in
/// number order, one `NAME = number, "abi name", "what it is";` per
/// register. Each crate defines its form of the register constants from
/// it (this module: `u8` numbers; `hv-host`: typed registers), so the
/// numbers are written once.
#[macro_export]
macro_rules! gpr_table {
    ($m:ident) => {
        $m! {
            ZERO = 0, "zero", "always reads 0";
            AT = 1, "at", "the assembler temporary";
            V0 = 2, "v0", "first result register";
            V1 = 3, "v1", "second result register";
            A0 = 4, "a0", "first argument register";
            A1 = 5, "a1", "second argument register";
            A2 = 6, "a2", "third argument register";
            A3 = 7, "a3", "fourth argument register";
            T0 = 8, "t0", "temporary";
            T1 = 9, "t1", "temporary";
            T2 = 10, "t2", "temporary";
            T3 = 11, "t3", "temporary";
            T4 = 12, "t4", "temporary";
            T5 = 13, "t5", "temporary";
            T6 = 14, "t6", "temporary";
            T7 = 15, "t7", "temporary";
            S0 = 16, "s0", "callee-saved";
            S1 = 17, "s1", "callee-saved";
            S2 = 18, "s2", "callee-saved";
            S3 = 19, "s3", "callee-saved";
            S4 = 20, "s4", "callee-saved";
            S5 = 21, "s5", "callee-saved";
            S6 = 22, "s6", "callee-saved";
            S7 = 23, "s7", "callee-saved";
            T8 = 24, "t8", "temporary";
            T9 = 25, "t9", "temporary (the PIC call register; the UHI operation number)";
            K0 = 26, "k0", "reserved for the kernel's exception handlers";
            K1 = 27, "k1", "reserved for the kernel's exception handlers";
            GP = 28, "gp", "global pointer";
            SP = 29, "sp", "stack pointer";
            FP = 30, "fp", "frame pointer (also `$s8`)";
            RA = 31, "ra", "return address";
        }
    };
}

macro_rules! numbers {
    ($($name:ident = $n:literal, $abi:literal, $what:literal;)*) => {
        $(
            #[doc = concat!("`$", $abi, "` (`$", stringify!($n), "`), ", $what, ".")]
            pub const $name: u8 = $n;
        )*

        /// ABI names of the general-purpose registers, by number.
        pub const NAMES: [&str; 32] = [$($abi),*];

        // The table is in number order: `NAMES[n]` names register `n`.
        const _: () = {
            let mut n = 0;
            $(
                assert!($n == n);
                n += 1;
            )*
            assert!(n == 32);
        };
    };
}

gpr_table!(numbers);

/// `v0`: the hypercall number in, the status out.
pub const REG_V0: usize = V0 as usize;

/// `v1`: the call's value out.
pub const REG_V1: usize = V1 as usize;

/// `a0`: first argument.
pub const REG_A0: usize = A0 as usize;

/// `a1`: second argument.
pub const REG_A1: usize = A1 as usize;

/// `a2`: third argument.
pub const REG_A2: usize = A2 as usize;

/// `a3`: fourth argument.
pub const REG_A3: usize = A3 as usize;

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

    #[test]
    fn numbers_and_names_follow_o32() {
        assert_eq!(
            (ZERO, V0, A0, T0, S0, T8, K0, GP, SP, RA),
            (0, 2, 4, 8, 16, 24, 26, 28, 29, 31)
        );
        assert_eq!(
            (NAMES[0], NAMES[25], NAMES[29], NAMES[31]),
            ("zero", "t9", "sp", "ra")
        );
    }
}
