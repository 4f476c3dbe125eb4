//! Disassembly: `Display` for [`Instruction`], in GNU `objdump` style with
//! ABI register names. Used by traces and error messages.

use core::fmt;

use super::decode::{Op, classify};
use super::insn::{Instruction, regs};

fn r(n: u8) -> &'static str {
    regs::NAMES[usize::from(n & 31)]
}

impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Op::*;
        let i = *self;
        let op = classify(i);
        let name = mnemonic(op);
        let (rs, rt, rd) = (r(i.rs()), r(i.rt()), r(i.rd()));
        let simm = i.imm_se() as i32;
        let boff = i.branch_offset() as i32 + 4;
        match op {
            Undecoded | Nop => f.write_str("nop"),
            Reserved => write!(f, "(reserved {:#010x})", i.0),
            CopUnusable => write!(
                f,
                "(cop{} {:#010x})",
                if matches!(i.opcode(), 0x12 | 0x32 | 0x36 | 0x3a | 0x3e) {
                    2
                } else {
                    1
                },
                i.0
            ),
            Sll if i.0 == 0 => f.write_str("nop"),
            Sll if i.0 == 0xc0 => f.write_str("ehb"),
            Sll | Srl | Sra | Rotr => write!(f, "{name} {rd}, {rt}, {}", i.sa()),
            Sllv | Srlv | Srav | Rotrv => write!(f, "{name} {rd}, {rt}, {rs}"),
            Jr | Mthi | Mtlo => write!(f, "{name} {rs}"),
            Jalr if i.rd() == regs::RA => write!(f, "jalr {rs}"),
            Jalr => write!(f, "jalr {rd}, {rs}"),
            Mfhi | Mflo => write!(f, "{name} {rd}"),
            Syscall | Break | Sdbbp if i.code20() == 0 => f.write_str(name),
            Syscall | Break | Sdbbp => write!(f, "{name} {:#x}", i.code20()),
            Sync => f.write_str("sync"),
            Mult | Multu | Div | Divu | Madd | Maddu | Msub | Msubu => {
                write!(f, "{name} {rs}, {rt}")
            }
            Tge | Tgeu | Tlt | Tltu | Teq | Tne => write!(f, "{name} {rs}, {rt}"),
            Movz | Movn | Add | Addu | Sub | Subu | And | Or | Xor | Nor | Slt | Sltu | Mul => {
                write!(f, "{name} {rd}, {rs}, {rt}")
            }
            Clz | Clo => write!(f, "{name} {rd}, {rs}"),
            Bltz | Bgez | Bltzl | Bgezl | Bltzal | Bgezal | Bltzall | Bgezall | Blez | Bgtz
            | Blezl | Bgtzl => write!(f, "{name} {rs}, {boff:+}"),
            Beq if i.rs() == regs::ZERO && i.rt() == regs::ZERO => write!(f, "b {boff:+}"),
            Beq | Bne | Beql | Bnel => write!(f, "{name} {rs}, {rt}, {boff:+}"),
            Tgei | Tgeiu | Tlti | Tltiu | Teqi | Tnei => write!(f, "{name} {rs}, {simm}"),
            Synci => write!(f, "synci {simm}({rs})"),
            J | Jal => write!(f, "{name} {:#x}", i.target()),
            Addi | Addiu | Slti | Sltiu => write!(f, "{name} {rt}, {rs}, {simm}"),
            Andi | Ori | Xori => write!(f, "{name} {rt}, {rs}, {:#x}", i.imm()),
            Lui => write!(f, "lui {rt}, {:#x}", i.imm()),
            Mfc0 | Mtc0 => write!(f, "{name} {rt}, ${}, {}", i.rd(), i.sel()),
            Di | Ei => write!(f, "{name} {rt}"),
            Rdpgpr | Wrpgpr => write!(f, "{name} {rd}, {rt}"),
            Tlbr | Tlbwi | Tlbwr | Tlbp | Eret | Wait => f.write_str(name),
            Ext | Ins => {
                let pos = i.sa();
                let size = if op == Ext {
                    u32::from(i.rd()) + 1
                } else {
                    (u32::from(i.rd()) + 1).wrapping_sub(pos)
                };
                write!(f, "{name} {rt}, {rs}, {pos}, {size}")
            }
            Wsbh | Seb | Seh => write!(f, "{name} {rd}, {rt}"),
            Rdhwr => write!(f, "rdhwr {rt}, ${}", i.rd()),
            Lb | Lh | Lwl | Lw | Lbu | Lhu | Lwr | Sb | Sh | Swl | Sw | Swr | Ll | Sc => {
                write!(f, "{name} {rt}, {simm}({rs})")
            }
            Cache | Pref => write!(f, "{name} {:#x}, {simm}({rs})", i.rt()),
        }
    }
}

/// The assembler mnemonic of an operation.
pub fn mnemonic(op: Op) -> &'static str {
    use Op::*;
    match op {
        Undecoded | Nop => "nop",
        Reserved => "reserved",
        CopUnusable => "cop",
        Sll => "sll",
        Srl => "srl",
        Sra => "sra",
        Rotr => "rotr",
        Sllv => "sllv",
        Srlv => "srlv",
        Srav => "srav",
        Rotrv => "rotrv",
        Jr => "jr",
        Jalr => "jalr",
        Movz => "movz",
        Movn => "movn",
        Syscall => "syscall",
        Break => "break",
        Sync => "sync",
        Mfhi => "mfhi",
        Mthi => "mthi",
        Mflo => "mflo",
        Mtlo => "mtlo",
        Mult => "mult",
        Multu => "multu",
        Div => "div",
        Divu => "divu",
        Add => "add",
        Addu => "addu",
        Sub => "sub",
        Subu => "subu",
        And => "and",
        Or => "or",
        Xor => "xor",
        Nor => "nor",
        Slt => "slt",
        Sltu => "sltu",
        Tge => "tge",
        Tgeu => "tgeu",
        Tlt => "tlt",
        Tltu => "tltu",
        Teq => "teq",
        Tne => "tne",
        Bltz => "bltz",
        Bgez => "bgez",
        Bltzl => "bltzl",
        Bgezl => "bgezl",
        Bltzal => "bltzal",
        Bgezal => "bgezal",
        Bltzall => "bltzall",
        Bgezall => "bgezall",
        Tgei => "tgei",
        Tgeiu => "tgeiu",
        Tlti => "tlti",
        Tltiu => "tltiu",
        Teqi => "teqi",
        Tnei => "tnei",
        Synci => "synci",
        J => "j",
        Jal => "jal",
        Beq => "beq",
        Bne => "bne",
        Blez => "blez",
        Bgtz => "bgtz",
        Beql => "beql",
        Bnel => "bnel",
        Blezl => "blezl",
        Bgtzl => "bgtzl",
        Addi => "addi",
        Addiu => "addiu",
        Slti => "slti",
        Sltiu => "sltiu",
        Andi => "andi",
        Ori => "ori",
        Xori => "xori",
        Lui => "lui",
        Mfc0 => "mfc0",
        Mtc0 => "mtc0",
        Di => "di",
        Ei => "ei",
        Rdpgpr => "rdpgpr",
        Wrpgpr => "wrpgpr",
        Tlbr => "tlbr",
        Tlbwi => "tlbwi",
        Tlbwr => "tlbwr",
        Tlbp => "tlbp",
        Eret => "eret",
        Wait => "wait",
        Madd => "madd",
        Maddu => "maddu",
        Mul => "mul",
        Msub => "msub",
        Msubu => "msubu",
        Clz => "clz",
        Clo => "clo",
        Sdbbp => "sdbbp",
        Ext => "ext",
        Ins => "ins",
        Wsbh => "wsbh",
        Seb => "seb",
        Seh => "seh",
        Rdhwr => "rdhwr",
        Lb => "lb",
        Lh => "lh",
        Lwl => "lwl",
        Lw => "lw",
        Lbu => "lbu",
        Lhu => "lhu",
        Lwr => "lwr",
        Sb => "sb",
        Sh => "sh",
        Swl => "swl",
        Sw => "sw",
        Swr => "swr",
        Cache => "cache",
        Ll => "ll",
        Pref => "pref",
        Sc => "sc",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objdump_style() {
        let cases = [
            (0x27bd_fff0, "addiu sp, sp, -16"),
            (0x0000_0000, "nop"),
            (0x03e0_0008, "jr ra"),
            (0x8fbf_001c, "lw ra, 28(sp)"),
            (0x4200_0018, "eret"),
            (0x4082_6000, "mtc0 v0, $12, 0"),
            (0x7000_007f, "sdbbp 0x1"),
            (0x1000_ffff, "b +0"),
            (0xffff_ffff, "(reserved 0xffffffff)"),
        ];
        for (word, text) in cases {
            assert_eq!(Instruction(word).to_string(), text, "{word:#010x}");
        }
    }
}
