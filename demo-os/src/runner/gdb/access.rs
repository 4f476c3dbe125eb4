//! The data access an instruction is about to make, read off the
//! instruction and the registers before it executes: what read and access
//! watchpoints need (a load leaves nothing behind to compare), and what
//! lets a watchpoint stop before the instruction, as gdb expects of a
//! MIPS target.
//!
//! The loads are `lb lbu lh lhu lw lwl lwr ll`, the stores `sb sh sw swl
//! swr sc`; the address is `gpr[base]` plus the sign-extended 16-bit
//! offset. `lwl`/`lwr`/`swl`/`swr` touch only their byte lanes of the
//! aligned word (little-endian, see [`hv_host::machine::unaligned`]); an
//! `sc` stores only if the LL bit is set. A misaligned address raises
//! Address Error and accesses nothing, which the caller's translation
//! check ([`DataAccess::done_by`]) cannot see, so [`data_access`] answers
//! nothing for it.
//!
//! A MIPS CPU never stops in a branch delay slot (an exception there is
//! taken at the branch), and gdb steps a MIPS target as if it could not:
//! so the access of a delay slot is looked at before its branch, with the
//! registers the slot will see ([`delay_slot_cpu`]: the link register a
//! `jal`, `jalr`, `bltzal` or `bgezal` writes) and only if it executes (a
//! branch-likely that is not taken skips it).

use hv_host::machine::CpuState;
use hv_host::machine::decode::{Op, classify};
use hv_host::machine::exception::Access;
use hv_host::machine::insn::Instruction;
use hv_host::machine::unaligned::{left_lanes, right_lanes};

/// The bytes an instruction is about to load or store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataAccess {
    /// The first byte.
    pub start: u32,
    /// How many bytes (1 to 4).
    pub len: u32,
    /// A store (else a load).
    pub store: bool,
}

impl DataAccess {
    /// Whether it touches any of the `len` bytes from `addr`.
    pub fn overlaps(&self, addr: u32, len: u32) -> bool {
        let (a, b) = (u64::from(self.start), u64::from(addr));
        a < b + u64::from(len) && b < a + u64::from(self.len)
    }

    /// The kind of translation it needs.
    pub fn access(&self) -> Access {
        if self.store {
            Access::Store
        } else {
            Access::Load
        }
    }

    /// Whether it happens given `translates`, which says whether the
    /// address translates for the access now (a TLB miss, an invalid or
    /// clean page, a segment the mode may not use: the instruction raises
    /// an exception instead and touches nothing).
    pub fn done_by(&self, translates: impl FnOnce(u32, Access) -> bool) -> bool {
        translates(self.start, self.access())
    }
}

/// The width, in bytes, of the naturally aligned loads and stores, and
/// whether `op` stores (`None` for every other operation).
fn aligned_width(op: Op) -> Option<(u32, bool)> {
    Some(match op {
        Op::Lb | Op::Lbu => (1, false),
        Op::Lh | Op::Lhu => (2, false),
        Op::Lw | Op::Ll => (4, false),
        Op::Sb => (1, true),
        Op::Sh => (2, true),
        Op::Sw | Op::Sc => (4, true),
        _ => return None,
    })
}

/// The bytes of the aligned word at `ea` that the lanes `lanes` (one 0xff
/// per byte touched) cover, as (first byte, count).
fn lane_span(ea: u32, lanes: u32) -> (u32, u32) {
    let first = lanes.trailing_zeros() / 8;
    let last = (31 - lanes.leading_zeros()) / 8;
    ((ea & !3) + first, last - first + 1)
}

/// The access `insn` makes if it executes with the registers of `cpu`;
/// `None` if it accesses no data (or raises Address Error, or is an `sc`
/// that will fail).
pub fn data_access(insn: Instruction, cpu: &CpuState) -> Option<DataAccess> {
    let op = classify(insn);
    let ea = cpu.gpr[usize::from(insn.rs())].wrapping_add(insn.imm_se());
    if op == Op::Sc && !cpu.ll_bit {
        return None;
    }
    let (start, len, store) = match op {
        Op::Lwl | Op::Swl => {
            let (start, len) = lane_span(ea, left_lanes(ea));
            (start, len, op == Op::Swl)
        }
        Op::Lwr | Op::Swr => {
            let (start, len) = lane_span(ea, right_lanes(ea));
            (start, len, op == Op::Swr)
        }
        _ => {
            let (len, store) = aligned_width(op)?;
            if !ea.is_multiple_of(len) {
                return None;
            }
            (ea, len, store)
        }
    };
    Some(DataAccess { start, len, store })
}

/// How a branch or jump sets up its delay slot: the register it links
/// (if any), and whether it nullifies the slot when not taken (a
/// branch-likely); `None` for an instruction that is no branch.
fn branch_kind(insn: Instruction, op: Op) -> Option<(Option<u8>, bool)> {
    Some(match op {
        Op::Beq | Op::Bne | Op::Blez | Op::Bgtz | Op::Bltz | Op::Bgez => (None, false),
        Op::J | Op::Jr => (None, false),
        Op::Beql | Op::Bnel | Op::Blezl | Op::Bgtzl | Op::Bltzl | Op::Bgezl => (None, true),
        Op::Jal | Op::Bltzal | Op::Bgezal => (Some(31), false),
        Op::Bltzall | Op::Bgezall => (Some(31), true),
        Op::Jalr => (Some(insn.rd()), false),
        _ => return None,
    })
}

/// Whether the branch-likely `op` is taken with the registers of `cpu`.
fn likely_taken(insn: Instruction, op: Op, cpu: &CpuState) -> bool {
    let rs = cpu.gpr[usize::from(insn.rs())];
    let rt = cpu.gpr[usize::from(insn.rt())];
    match op {
        Op::Beql => rs == rt,
        Op::Bnel => rs != rt,
        Op::Blezl => rs as i32 <= 0,
        Op::Bgtzl => rs as i32 > 0,
        Op::Bltzl | Op::Bltzall => (rs as i32) < 0,
        Op::Bgezl | Op::Bgezall => rs as i32 >= 0,
        _ => true,
    }
}

/// The registers the delay slot of `insn`, a branch or jump about to
/// execute with `cpu`, will see (`pc` the slot's address); `None` if
/// `insn` is no branch, if `cpu` is already in a delay slot, or if the
/// slot will not execute.
pub fn delay_slot_cpu(insn: Instruction, cpu: &CpuState) -> Option<CpuState> {
    let op = classify(insn);
    let (link, likely) = branch_kind(insn, op)?;
    if cpu.delay_slot || (likely && !likely_taken(insn, op, cpu)) {
        return None;
    }
    let mut slot = *cpu;
    if let Some(r) = link.filter(|&r| r != 0) {
        slot.gpr[usize::from(r)] = cpu.pc.raw().wrapping_add(8);
    }
    slot.pc = cpu.pc.wrapping_add(4);
    slot.delay_slot = true;
    Some(slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An I-type load or store: `opcode rt, imm(base)`.
    fn mem(opcode: u32, rt: u32, imm: i16, base: u32) -> Instruction {
        Instruction(opcode << 26 | base << 21 | rt << 16 | u32::from(imm as u16))
    }

    /// A CPU with `t0` (register 8) = `base`.
    fn cpu(base: u32) -> CpuState {
        let mut c = CpuState::default();
        c.gpr[8] = base;
        c
    }

    fn at(start: u32, len: u32, store: bool) -> Option<DataAccess> {
        Some(DataAccess { start, len, store })
    }

    #[test]
    fn aligned_loads_and_stores_have_their_width() {
        let c = cpu(0x8000_1000);
        assert_eq!(
            data_access(mem(0x20, 9, 3, 8), &c),
            at(0x8000_1003, 1, false)
        ); // lb
        assert_eq!(
            data_access(mem(0x24, 9, -1, 8), &c),
            at(0x8000_0fff, 1, false)
        ); // lbu
        assert_eq!(
            data_access(mem(0x21, 9, 2, 8), &c),
            at(0x8000_1002, 2, false)
        ); // lh
        assert_eq!(
            data_access(mem(0x25, 9, -2, 8), &c),
            at(0x8000_0ffe, 2, false)
        ); // lhu
        assert_eq!(
            data_access(mem(0x23, 9, 8, 8), &c),
            at(0x8000_1008, 4, false)
        ); // lw
        assert_eq!(
            data_access(mem(0x30, 9, 4, 8), &c),
            at(0x8000_1004, 4, false)
        ); // ll
        assert_eq!(
            data_access(mem(0x28, 9, 1, 8), &c),
            at(0x8000_1001, 1, true)
        ); // sb
        assert_eq!(
            data_access(mem(0x29, 9, 2, 8), &c),
            at(0x8000_1002, 2, true)
        ); // sh
        assert_eq!(
            data_access(mem(0x2b, 9, -4, 8), &c),
            at(0x8000_0ffc, 4, true)
        ); // sw
    }

    #[test]
    fn misaligned_accesses_and_other_instructions_access_nothing() {
        let c = cpu(0x8000_1000);
        assert_eq!(data_access(mem(0x21, 9, 1, 8), &c), None); // lh, odd
        assert_eq!(data_access(mem(0x23, 9, 2, 8), &c), None); // lw
        assert_eq!(data_access(mem(0x2b, 9, 6, 8), &c), None); // sw
        assert_eq!(data_access(mem(0x09, 9, 4, 8), &c), None); // addiu
        assert_eq!(data_access(mem(0x2f, 0, 0, 8), &c), None); // cache
        assert_eq!(data_access(mem(0x33, 0, 0, 8), &c), None); // pref
        assert_eq!(data_access(Instruction(0), &c), None); // nop
    }

    #[test]
    fn unaligned_pairs_touch_their_lanes_only() {
        let c = cpu(0x8000_1000);
        // Little-endian: lwl/swl at offset k touch bytes 0..=k of the
        // word, lwr/swr bytes k..=3.
        assert_eq!(
            data_access(mem(0x22, 9, 0, 8), &c),
            at(0x8000_1000, 1, false)
        );
        assert_eq!(
            data_access(mem(0x22, 9, 3, 8), &c),
            at(0x8000_1000, 4, false)
        );
        assert_eq!(
            data_access(mem(0x26, 9, 0, 8), &c),
            at(0x8000_1000, 4, false)
        );
        assert_eq!(
            data_access(mem(0x26, 9, 3, 8), &c),
            at(0x8000_1003, 1, false)
        );
        assert_eq!(
            data_access(mem(0x2a, 9, 1, 8), &c),
            at(0x8000_1000, 2, true)
        ); // swl
        assert_eq!(
            data_access(mem(0x2e, 9, 1, 8), &c),
            at(0x8000_1001, 3, true)
        ); // swr
    }

    #[test]
    fn sc_stores_only_with_the_ll_bit() {
        let mut c = cpu(0x8000_1000);
        assert_eq!(data_access(mem(0x38, 9, 0, 8), &c), None);
        c.ll_bit = true;
        assert_eq!(
            data_access(mem(0x38, 9, 0, 8), &c),
            at(0x8000_1000, 4, true)
        );
    }

    /// An R-type `jalr rd, rs` or `jr rs` (rd 0).
    fn jalr(rd: u32, rs: u32) -> Instruction {
        Instruction(rs << 21 | rd << 11 | if rd == 0 { 8 } else { 9 })
    }

    #[test]
    fn a_delay_slot_sees_the_link_register_its_branch_writes() {
        let mut c = cpu(0x8000_1000);
        c.pc = hv_host::addr::GuestVirtAddr::new(0x8000_2000);
        c.gpr[31] = 0x1234;
        // jal: ra = pc + 8 in the slot.
        let slot = delay_slot_cpu(Instruction(0x0c00_0000 | 0x100), &c).unwrap();
        assert_eq!(slot.gpr[31], 0x8000_2008);
        assert_eq!(slot.pc.raw(), 0x8000_2004);
        assert!(slot.delay_slot);
        // A `sw t1, 0(ra)` there stores at the return address.
        assert_eq!(
            data_access(mem(0x2b, 9, 0, 31), &slot),
            at(0x8000_2008, 4, true)
        );
        // jalr t2, t0 links t2; jr ra links nothing.
        assert_eq!(
            delay_slot_cpu(jalr(10, 8), &c).unwrap().gpr[10],
            0x8000_2008
        );
        assert_eq!(delay_slot_cpu(jalr(0, 31), &c).unwrap().gpr[31], 0x1234);
        // Not a branch; already in a delay slot.
        assert_eq!(delay_slot_cpu(mem(0x23, 9, 0, 8), &c), None);
        c.delay_slot = true;
        assert_eq!(delay_slot_cpu(Instruction(0x0800_0000), &c), None);
    }

    #[test]
    fn a_branch_likely_not_taken_skips_its_slot() {
        let mut c = cpu(0x8000_1000);
        c.gpr[9] = 0x8000_1000;
        let beql = Instruction(0x14 << 26 | 8 << 21 | 9 << 16 | 4); // beql t0, t1
        let bnel = Instruction(0x15 << 26 | 8 << 21 | 9 << 16 | 4); // bnel t0, t1
        assert!(delay_slot_cpu(beql, &c).is_some());
        assert_eq!(delay_slot_cpu(bnel, &c), None);
        // bgezall t0 (negative as i32): not taken, but would link.
        let bgezall = Instruction(0x01 << 26 | 8 << 21 | 0x13 << 16 | 4);
        assert_eq!(delay_slot_cpu(bgezall, &c), None);
        // bgezal t0: not likely, the slot runs, ra linked.
        let bgezal = Instruction(0x01 << 26 | 8 << 21 | 0x11 << 16 | 4);
        assert_eq!(delay_slot_cpu(bgezal, &c).unwrap().gpr[31], 8);
        // beq t0, t1: the slot runs taken or not.
        let beq = Instruction(0x04 << 26 | 8 << 21 | 9 << 16 | 4);
        assert!(delay_slot_cpu(beq, &c).is_some());
        c.gpr[9] = 0;
        assert!(delay_slot_cpu(beq, &c).is_some());
    }

    #[test]
    fn overlap_is_by_byte_and_wraps_nowhere() {
        let a = DataAccess {
            start: 0x1002,
            len: 2,
            store: false,
        };
        assert!(a.overlaps(0x1000, 4));
        assert!(a.overlaps(0x1003, 1));
        assert!(!a.overlaps(0x1000, 2));
        assert!(!a.overlaps(0x1004, 4));
        let top = DataAccess {
            start: 0xffff_fffc,
            len: 4,
            store: true,
        };
        assert!(top.overlaps(0xffff_ffff, 1));
        assert!(!top.overlaps(0, 4));
        assert_eq!(top.access(), Access::Store);
    }
}
