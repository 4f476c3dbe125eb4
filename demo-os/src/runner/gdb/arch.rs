//! The registers gdb is told about: the 72 a 32-bit MIPS gdb expects
//! (gdbstub's [`MipsCoreRegs`]: r0..r31, Status, LO, HI, BadVAddr, Cause,
//! PC, the FPU's f0..f31, FCSR and FIR, which a MIPS gdb requires though
//! this CPU has no FPU: they read zero, writes are ignored), then the CP0
//! registers a kernel author wants ([`CP0_EXTRA`]: EPC, Count, Compare,
//! the TLB registers, ...), and the target description (`target.xml`)
//! that names them all, so that `p $epc`, `set $epc = ...` and `info
//! registers` know them.
//!
//! Every register is 4 bytes; gdb's number for one is its index in the
//! `g` packet ([`RegId`]).

use gdbstub::arch::{Arch, Registers};
use gdbstub_arch::mips::MipsBreakpointKind;
use gdbstub_arch::mips::reg::MipsCoreRegs;
use hv_host::machine::cp0::reg;
use std::num::NonZeroUsize;

/// A CP0 register gdb shows beyond Status, BadVAddr and Cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cp0Reg {
    /// Its name in gdb (`$epc`).
    pub name: &'static str,
    /// Its register number (`rd` of MFC0/MTC0).
    pub rd: u8,
    /// Its select.
    pub sel: u8,
}

const fn cp0(name: &'static str, rd: u8, sel: u8) -> Cp0Reg {
    Cp0Reg { name, rd, sel }
}

/// The CP0 registers after the core ones, in `g`-packet order (gdb's
/// numbers 72 on). The target description lists them in this order.
pub const CP0_EXTRA: [Cp0Reg; 16] = [
    cp0("index", reg::INDEX, 0),
    cp0("random", reg::RANDOM, 0),
    cp0("entrylo0", reg::ENTRYLO0, 0),
    cp0("entrylo1", reg::ENTRYLO1, 0),
    cp0("context", reg::CONTEXT, 0),
    cp0("pagemask", reg::PAGEMASK, 0),
    cp0("wired", reg::WIRED, 0),
    cp0("count", reg::COUNT, 0),
    cp0("entryhi", reg::ENTRYHI, 0),
    cp0("compare", reg::COMPARE, 0),
    cp0("epc", reg::EPC, 0),
    cp0("prid", reg::PRID, 0),
    cp0("ebase", reg::PRID, 1),
    cp0("config", reg::CONFIG, 0),
    cp0("config1", reg::CONFIG, 1),
    cp0("errorepc", reg::ERROREPC, 0),
];

/// Registers in gdbstub's 32-bit MIPS layout.
const CORE_REGS: usize = 72;

/// Every register gdb sees.
pub const ALL_REGS: usize = CORE_REGS + CP0_EXTRA.len();

/// The target description: gdb's own MIPS features (`mips-cpu.xml`,
/// `mips-cp0.xml`, `mips-fpu.xml`, with their register numbers), then
/// [`CP0_EXTRA`] in a feature of ours, numbered from 72. EPC and ErrorEPC
/// are code addresses (gdb prints the symbol), the others unsigned.
const TARGET_XML: &str = r#"<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target version="1.0">
<architecture>mips</architecture>
<feature name="org.gnu.gdb.mips.cpu">
<reg name="r0" bitsize="32" regnum="0"/><reg name="r1" bitsize="32"/><reg name="r2" bitsize="32"/><reg name="r3" bitsize="32"/>
<reg name="r4" bitsize="32"/><reg name="r5" bitsize="32"/><reg name="r6" bitsize="32"/><reg name="r7" bitsize="32"/>
<reg name="r8" bitsize="32"/><reg name="r9" bitsize="32"/><reg name="r10" bitsize="32"/><reg name="r11" bitsize="32"/>
<reg name="r12" bitsize="32"/><reg name="r13" bitsize="32"/><reg name="r14" bitsize="32"/><reg name="r15" bitsize="32"/>
<reg name="r16" bitsize="32"/><reg name="r17" bitsize="32"/><reg name="r18" bitsize="32"/><reg name="r19" bitsize="32"/>
<reg name="r20" bitsize="32"/><reg name="r21" bitsize="32"/><reg name="r22" bitsize="32"/><reg name="r23" bitsize="32"/>
<reg name="r24" bitsize="32"/><reg name="r25" bitsize="32"/><reg name="r26" bitsize="32"/><reg name="r27" bitsize="32"/>
<reg name="r28" bitsize="32"/><reg name="r29" bitsize="32"/><reg name="r30" bitsize="32"/><reg name="r31" bitsize="32"/>
<reg name="lo" bitsize="32" regnum="33"/>
<reg name="hi" bitsize="32" regnum="34"/>
<reg name="pc" bitsize="32" regnum="37"/>
</feature>
<feature name="org.gnu.gdb.mips.cp0">
<reg name="status" bitsize="32" regnum="32"/>
<reg name="badvaddr" bitsize="32" regnum="35"/>
<reg name="cause" bitsize="32" regnum="36"/>
</feature>
<feature name="org.gnu.gdb.mips.fpu">
<reg name="f0" bitsize="32" type="ieee_single" regnum="38"/><reg name="f1" bitsize="32" type="ieee_single"/>
<reg name="f2" bitsize="32" type="ieee_single"/><reg name="f3" bitsize="32" type="ieee_single"/>
<reg name="f4" bitsize="32" type="ieee_single"/><reg name="f5" bitsize="32" type="ieee_single"/>
<reg name="f6" bitsize="32" type="ieee_single"/><reg name="f7" bitsize="32" type="ieee_single"/>
<reg name="f8" bitsize="32" type="ieee_single"/><reg name="f9" bitsize="32" type="ieee_single"/>
<reg name="f10" bitsize="32" type="ieee_single"/><reg name="f11" bitsize="32" type="ieee_single"/>
<reg name="f12" bitsize="32" type="ieee_single"/><reg name="f13" bitsize="32" type="ieee_single"/>
<reg name="f14" bitsize="32" type="ieee_single"/><reg name="f15" bitsize="32" type="ieee_single"/>
<reg name="f16" bitsize="32" type="ieee_single"/><reg name="f17" bitsize="32" type="ieee_single"/>
<reg name="f18" bitsize="32" type="ieee_single"/><reg name="f19" bitsize="32" type="ieee_single"/>
<reg name="f20" bitsize="32" type="ieee_single"/><reg name="f21" bitsize="32" type="ieee_single"/>
<reg name="f22" bitsize="32" type="ieee_single"/><reg name="f23" bitsize="32" type="ieee_single"/>
<reg name="f24" bitsize="32" type="ieee_single"/><reg name="f25" bitsize="32" type="ieee_single"/>
<reg name="f26" bitsize="32" type="ieee_single"/><reg name="f27" bitsize="32" type="ieee_single"/>
<reg name="f28" bitsize="32" type="ieee_single"/><reg name="f29" bitsize="32" type="ieee_single"/>
<reg name="f30" bitsize="32" type="ieee_single"/><reg name="f31" bitsize="32" type="ieee_single"/>
<reg name="fcsr" bitsize="32" group="float"/>
<reg name="fir" bitsize="32" group="float"/>
</feature>
<feature name="org.hv.mips.cp0.kernel">
<reg name="index" bitsize="32" type="uint32" regnum="72"/>
<reg name="random" bitsize="32" type="uint32"/>
<reg name="entrylo0" bitsize="32" type="uint32"/>
<reg name="entrylo1" bitsize="32" type="uint32"/>
<reg name="context" bitsize="32" type="uint32"/>
<reg name="pagemask" bitsize="32" type="uint32"/>
<reg name="wired" bitsize="32" type="uint32"/>
<reg name="count" bitsize="32" type="uint32"/>
<reg name="entryhi" bitsize="32" type="uint32"/>
<reg name="compare" bitsize="32" type="uint32"/>
<reg name="epc" bitsize="32" type="code_ptr"/>
<reg name="prid" bitsize="32" type="uint32"/>
<reg name="ebase" bitsize="32" type="uint32"/>
<reg name="config" bitsize="32" type="uint32"/>
<reg name="config1" bitsize="32" type="uint32"/>
<reg name="errorepc" bitsize="32" type="code_ptr"/>
</feature>
</target>
"#;

/// 32-bit MIPS as this stub describes it: gdbstub's `Mips` registers and
/// the CP0 registers of [`CP0_EXTRA`] after them.
pub enum MipsKernel {}

impl Arch for MipsKernel {
    type Usize = u32;
    type Registers = Regs;
    type RegId = RegId;
    type BreakpointKind = MipsBreakpointKind;

    fn target_description_xml() -> Option<&'static str> {
        Some(TARGET_XML)
    }
}

/// Every register of a thread, in `g`-packet order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Regs {
    /// The registers gdbstub's 32-bit MIPS has (GPRs, Status, LO, HI,
    /// BadVAddr, Cause, PC, FPU).
    pub core: MipsCoreRegs<u32>,
    /// The registers of [`CP0_EXTRA`], in its order.
    pub cp0: [u32; CP0_EXTRA.len()],
}

impl Registers for Regs {
    type ProgramCounter = u32;

    fn pc(&self) -> u32 {
        self.core.pc
    }

    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        self.core.gdb_serialize(&mut write_byte);
        for v in self.cp0 {
            v.to_le_bytes()
                .into_iter()
                .for_each(|b| write_byte(Some(b)));
        }
    }

    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        if bytes.len() != ALL_REGS * 4 {
            return Err(());
        }
        let (core, extra) = bytes.split_at(CORE_REGS * 4);
        self.core.gdb_deserialize(core)?;
        for (v, c) in self.cp0.iter_mut().zip(extra.chunks_exact(4)) {
            *v = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        Ok(())
    }
}

impl Regs {
    /// The registers as the `g` packet carries them (little-endian words).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ALL_REGS * 4);
        self.gdb_serialize(|b| out.push(b.unwrap_or(0)));
        out
    }
}

/// A register by gdb's number (below [`ALL_REGS`]); each is 4 bytes at
/// 4 times its number in the `g` packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegId(pub usize);

impl gdbstub::arch::RegId for RegId {
    fn from_raw_id(id: usize) -> Option<(Self, Option<NonZeroUsize>)> {
        (id < ALL_REGS).then_some((RegId(id), NonZeroUsize::new(4)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_numbers_the_registers_as_the_packet_carries_them() {
        // The extra registers follow in the table's order from 72.
        let names: Vec<&str> = TARGET_XML
            .split("<feature name=\"org.hv.mips.cp0.kernel\">")
            .nth(1)
            .expect("our feature")
            .split("<reg name=\"")
            .skip(1)
            .filter_map(|r| r.split('"').next())
            .collect();
        let table: Vec<&str> = CP0_EXTRA.iter().map(|r| r.name).collect();
        assert_eq!(names, table);
        assert!(
            TARGET_XML
                .contains("<reg name=\"index\" bitsize=\"32\" type=\"uint32\" regnum=\"72\"/>")
        );
        // gdb's MIPS numbers, the ones gdbstub's layout has.
        for (name, n) in [
            ("status", 32),
            ("lo", 33),
            ("hi", 34),
            ("badvaddr", 35),
            ("cause", 36),
            ("pc", 37),
            ("f0", 38),
        ] {
            assert!(
                TARGET_XML.contains(&format!("<reg name=\"{name}\" bitsize=\"32\"")),
                "{name}"
            );
            assert!(
                TARGET_XML.contains(&format!(
                    "name=\"{name}\" bitsize=\"32\"{} regnum=\"{n}\"",
                    if name == "f0" {
                        " type=\"ieee_single\""
                    } else {
                        ""
                    }
                )),
                "{name}"
            );
        }
        // 32 + 3 + 34 + 3 core registers in gdb's features.
        assert_eq!(TARGET_XML.matches("<reg name=").count(), ALL_REGS);
    }

    #[test]
    fn registers_round_trip_through_the_packet_and_refuse_a_short_one() {
        let mut r = Regs::default();
        r.core.r[4] = 0x0400_0000;
        r.core.pc = 0x8000_1000;
        r.core.cp0.cause = 0x24;
        r.cp0[10] = 0x8000_0180;
        let bytes = r.to_bytes();
        assert_eq!(bytes.len(), ALL_REGS * 4);
        assert_eq!(
            bytes[(CORE_REGS + 10) * 4..][..4],
            0x8000_0180u32.to_le_bytes()
        );
        assert_eq!(bytes[36 * 4..][..4], 0x24u32.to_le_bytes());
        let mut back = Regs::default();
        assert_eq!(back.gdb_deserialize(&bytes), Ok(()));
        assert_eq!(back, r);
        assert_eq!(back.gdb_deserialize(&bytes[..CORE_REGS * 4]), Err(()));
        assert_eq!(back.gdb_deserialize(&[]), Err(()));
        use gdbstub::arch::RegId as _;
        assert_eq!(RegId::from_raw_id(82).map(|(r, _)| r), Some(RegId(82)));
        assert!(RegId::from_raw_id(ALL_REGS).is_none());
    }
}
