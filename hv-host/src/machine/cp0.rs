//! System control coprocessor (CP0): the privileged registers, their reset
//! values and their architectural write masks (MIPS32 Release 2, Volume III).
//!
//! This module owns the register storage and the masking rules, and with
//! the timer ([`super::timer`]) the rules of Count, Compare, Random and
//! Cause's TI, DC and IP7: the machine and the monitor's virtual CP0 hold
//! one each. Side effects of writes that reach outside CP0 (mode changes
//! flushing translation caches, interrupt re-evaluation) are applied by
//! the owner (the machine's executor in `exec/cop0.rs`).

use super::timer::CpuTimer;
use super::tlb::TLB_ENTRIES;

/// Status register bits.
pub mod status {
    /// Coprocessor 0 usable in user/supervisor mode.
    pub const CU0: u32 = 1 << 28;
    /// Boot exception vectors.
    pub const BEV: u32 = 1 << 22;
    /// Interrupt mask, IM7..IM0.
    pub const IM: u32 = 0xff << 8;
    /// Kernel/supervisor/user mode field.
    pub const KSU: u32 = 3 << 3;
    /// Supervisor mode value of KSU.
    pub const KSU_SUPERVISOR: u32 = 1 << 3;
    /// User mode value of KSU.
    pub const KSU_USER: u32 = 2 << 3;
    /// Error level.
    pub const ERL: u32 = 1 << 2;
    /// Exception level.
    pub const EXL: u32 = 1 << 1;
    /// Interrupt enable.
    pub const IE: u32 = 1;
    /// Bits software can write.
    pub const WRITABLE: u32 = CU0 | BEV | IM | KSU | ERL | EXL | IE;
}

/// Cause register bits.
pub mod cause {
    /// The exception happened in a branch delay slot.
    pub const BD: u32 = 1 << 31;
    /// Timer interrupt pending.
    pub const TI: u32 = 1 << 30;
    /// Disable Count: while set, Count does not advance.
    pub const DC: u32 = 1 << 27;
    /// Coprocessor number of a Coprocessor Unusable exception.
    pub const CE_SHIFT: u32 = 28;
    /// Interrupts use the special interrupt vector (offset 0x200).
    pub const IV: u32 = 1 << 23;
    /// Pending interrupt bits IP7..IP0.
    pub const IP: u32 = 0xff << 8;
    /// Software interrupt bits IP1..IP0 (writable).
    pub const IP_SW: u32 = 3 << 8;
    /// Exception code field.
    pub const EXC_CODE: u32 = 0x1f << 2;
    /// Bits software can write.
    pub const WRITABLE: u32 = DC | IV | IP_SW;
}

/// Config register values: MIPS32 Release 2, standard TLB, no caches
/// modelled, little-endian; Config1 reports [`TLB_ENTRIES`].
pub mod config {
    use super::TLB_ENTRIES;
    /// Config (16, 0): M=1, AT=MIPS32, AR=Release 2, MT=standard TLB, K0=2.
    pub const CONFIG0: u32 = (1 << 31) | (1 << 10) | (1 << 7) | 2;
    /// Config0 bits software can write (K0, the kseg0 cacheability).
    pub const CONFIG0_WRITABLE: u32 = 7;
    /// Config1 (16, 1): M=1, MMU size - 1 in bits 30..25, no caches, no FPU.
    pub const CONFIG1: u32 = (1 << 31) | ((TLB_ENTRIES as u32 - 1) << 25);
    /// Config2 (16, 2): M=1, no further caches.
    pub const CONFIG2: u32 = 1 << 31;
    /// Config3 (16, 3): ULRI (UserLocal implemented).
    pub const CONFIG3: u32 = 1 << 13;

    /// Config1 on the Malta board: a 24Kc as QEMU models it (its `24Kc`
    /// CPU definition, the geometry Linux prints on QEMU): M=1, MMU size
    /// (our 32 entries; QEMU has 16), 2 KiB 2-way primary caches with
    /// 16-byte lines (IS=0, IL=3, IA=1; DS=0, DL=3, DA=1), EJTAG present
    /// (EP), and no FPU (FP=0: Linux's FPU emulator runs FP code), no
    /// watch registers (WR=0) and no MIPS16 (CA=0), none of which this CPU
    /// implements. The caches are reported, not modelled: CACHE
    /// instructions have no effect, which is exact for a coherent memory.
    pub const CONFIG1_24KC: u32 = (1 << 31)
        | ((TLB_ENTRIES as u32 - 1) << 25)
        | (3 << 19)
        | (1 << 16)
        | (3 << 10)
        | (1 << 7)
        | (1 << 1);
    /// Config3 on the Malta board: nothing (QEMU's 24Kc has no UserLocal
    /// register; Linux then emulates `rdhwr $29` on its Reserved
    /// Instruction path), so that `/proc/cpuinfo` matches QEMU's.
    pub const CONFIG3_24KC: u32 = 0;
}

/// Processor identification: company MIPS Technologies (1), processor
/// 0x93 (24K family), revision 0.
pub const PRID: u32 = 0x0001_9300;

/// Mask of the Index register's index field.
pub const INDEX_MASK: u32 = TLB_ENTRIES as u32 - 1;
/// Index.P: the last TLBP found no match.
pub const INDEX_P: u32 = 1 << 31;
/// EntryLo bits software can write: PFN, C, D, V, G.
pub const ENTRYLO_WRITABLE: u32 = 0x03ff_ffff;
/// EntryHi bits software can write: VPN2 and ASID.
pub const ENTRYHI_WRITABLE: u32 = 0xffff_e0ff;
/// EntryHi ASID field.
pub const ASID_MASK: u32 = 0xff;
/// PageMask bits software can write (4 KiB up to 256 MiB pages).
pub const PAGEMASK_WRITABLE: u32 = 0x1fff_e000;
/// Context.PTEBase, the writable part of Context.
pub const CONTEXT_PTEBASE: u32 = 0xff80_0000;
/// EBase writable bits (exception base, bits 29..12; bits 31..30 read 1,0).
pub const EBASE_WRITABLE: u32 = 0x3fff_f000;
/// HWREna bits software can write (hardware registers 0..3 and 29).
pub const HWRENA_WRITABLE: u32 = 0x2000_000f;
/// IntCtl: IPTI = 7 (timer on IP7), IPPCI = 0; VS (bits 9..5) writable.
pub const INTCTL: u32 = 7 << 29;
/// IntCtl bits software can write.
pub const INTCTL_WRITABLE: u32 = 0x1f << 5;

/// CP0 register numbers (`rd` of MFC0/MTC0), by name.
#[allow(missing_docs)]
pub mod reg {
    pub const INDEX: u8 = 0;
    pub const RANDOM: u8 = 1;
    pub const ENTRYLO0: u8 = 2;
    pub const ENTRYLO1: u8 = 3;
    pub const CONTEXT: u8 = 4;
    pub const PAGEMASK: u8 = 5;
    pub const WIRED: u8 = 6;
    pub const HWRENA: u8 = 7;
    pub const BADVADDR: u8 = 8;
    pub const COUNT: u8 = 9;
    pub const ENTRYHI: u8 = 10;
    pub const COMPARE: u8 = 11;
    pub const STATUS: u8 = 12;
    pub const CAUSE: u8 = 13;
    pub const EPC: u8 = 14;
    pub const PRID: u8 = 15;
    pub const CONFIG: u8 = 16;
    pub const LLADDR: u8 = 17;
    pub const ERROREPC: u8 = 30;
}

/// What an MTC0 touched beyond storing the register: the side effects the
/// register file's owner applies (the machine to its run loop and caches,
/// a monitor to its virtual CPU).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cp0Write {
    /// Nothing beyond the stored value (or the write was ignored).
    Stored,
    /// Count was written: the timer deadline moved.
    Count,
    /// Compare was written (and Cause.TI cleared): the timer deadline moved.
    Compare,
    /// Status was written; its old value.
    Status(u32),
    /// Cause was written; its old value (a change of DC also moved the
    /// timer deadline).
    Cause(u32),
    /// EntryHi was written; its old value.
    EntryHi(u32),
    /// EBase was written (exception handlers moved).
    EBase,
}

/// The CP0 register file, with the timer that gives Count, Compare and
/// Random.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Cp0 {
    /// Index (0): TLB index for TLBR/TLBWI, P bit from TLBP.
    pub index: u32,
    /// EntryLo0 (2).
    pub entry_lo0: u32,
    /// EntryLo1 (3).
    pub entry_lo1: u32,
    /// Context (4): PTEBase and BadVPN2.
    pub context: u32,
    /// UserLocal (4, 2): read by `rdhwr $29`.
    pub user_local: u32,
    /// PageMask (5).
    pub page_mask: u32,
    /// Wired (6).
    pub wired: u32,
    /// HWREna (7).
    pub hwrena: u32,
    /// BadVAddr (8).
    pub bad_vaddr: u32,
    /// EntryHi (10): VPN2 and ASID.
    pub entry_hi: u32,
    /// Count (9), Compare (11) and Random (1).
    pub timer: CpuTimer,
    /// Status (12).
    pub status: u32,
    /// IntCtl (12, 1).
    pub intctl: u32,
    /// Cause (13), less the hardware interrupt lines, which are sampled
    /// live from the devices and the timer (IP7 follows TI).
    pub cause: u32,
    /// EPC (14).
    pub epc: u32,
    /// EBase (15, 1).
    pub ebase: u32,
    /// Config (16, 0) K0 field.
    pub config0: u32,
    /// Config1 (16, 1), read-only: the board's CPU configuration.
    pub config1: u32,
    /// Config3 (16, 3), read-only.
    pub config3: u32,
    /// LLAddr (17): physical address of the last LL, shifted right by 4.
    pub lladdr: u32,
    /// ErrorEPC (30).
    pub error_epc: u32,
    /// DESAVE (31): a scratch register.
    pub desave: u32,
}

impl Cp0 {
    /// The state after a cold reset at clock tick `now`: BEV=1, ERL=1
    /// (kernel mode, boot vectors), everything else as the architecture
    /// leaves it (zero here, Count too, so that runs are deterministic).
    pub fn reset(now: u64) -> Self {
        Self {
            index: 0,
            entry_lo0: 0,
            entry_lo1: 0,
            context: 0,
            user_local: 0,
            page_mask: 0,
            wired: 0,
            hwrena: 0,
            bad_vaddr: 0,
            entry_hi: 0,
            timer: CpuTimer::reset(now),
            status: status::BEV | status::ERL,
            intctl: INTCTL,
            cause: 0,
            epc: 0,
            ebase: 0x8000_0000,
            config0: config::CONFIG0,
            config1: config::CONFIG1,
            config3: config::CONFIG3,
            lladdr: 0,
            error_epc: 0,
            desave: 0,
        }
    }

    /// MFC0 of a stored register (`rd`, select `sel`); unimplemented ones
    /// read zero. Random and Count derive from time and Cause's live
    /// interrupt lines from the devices: their owner reads those itself
    /// ([`Cp0::random`], [`Cp0::count`], [`Cp0::cause_value`]; this gives
    /// 0 for Random and Count, the stored bits of Cause).
    pub fn read(&self, rd: u8, sel: u8) -> u32 {
        match (rd, sel) {
            (reg::INDEX, 0) => self.index,
            (reg::ENTRYLO0, 0) => self.entry_lo0,
            (reg::ENTRYLO1, 0) => self.entry_lo1,
            (reg::CONTEXT, 0) => self.context,
            (reg::CONTEXT, 2) => self.user_local,
            (reg::PAGEMASK, 0) => self.page_mask,
            (reg::WIRED, 0) => self.wired,
            (reg::HWRENA, 0) => self.hwrena,
            (reg::BADVADDR, 0) => self.bad_vaddr,
            (reg::ENTRYHI, 0) => self.entry_hi,
            (reg::COMPARE, 0) => self.timer.compare(),
            (reg::STATUS, 0) => self.status,
            (reg::STATUS, 1) => self.intctl,
            (reg::CAUSE, 0) => self.cause,
            (reg::EPC, 0) => self.epc,
            (reg::PRID, 0) => PRID,
            (reg::PRID, 1) => self.ebase,
            (reg::CONFIG, 0) => self.config0,
            (reg::CONFIG, 1) => self.config1,
            (reg::CONFIG, 2) => config::CONFIG2,
            (reg::CONFIG, 3) => self.config3,
            (reg::LLADDR, 0) => self.lladdr,
            (reg::ERROREPC, 0) => self.error_epc,
            (31, 0) => self.desave,
            _ => 0,
        }
    }

    /// MTC0 of `v` to register `rd`, select `sel`, at clock tick `now`,
    /// through the register's write mask (`index_mask` is the Index and
    /// Wired field, sized to the TLB), with its effect on the timer;
    /// read-only and unimplemented registers ignore the write. Says what
    /// the owner must do besides.
    pub fn write(&mut self, rd: u8, sel: u8, v: u32, index_mask: u32, now: u64) -> Cp0Write {
        match (rd, sel) {
            (reg::INDEX, 0) => self.index = (self.index & INDEX_P) | (v & index_mask),
            (reg::ENTRYLO0, 0) => self.entry_lo0 = v & ENTRYLO_WRITABLE,
            (reg::ENTRYLO1, 0) => self.entry_lo1 = v & ENTRYLO_WRITABLE,
            (reg::CONTEXT, 0) => {
                self.context = (self.context & !CONTEXT_PTEBASE) | (v & CONTEXT_PTEBASE)
            }
            (reg::CONTEXT, 2) => self.user_local = v,
            (reg::PAGEMASK, 0) => self.page_mask = v & PAGEMASK_WRITABLE,
            (reg::WIRED, 0) => {
                self.wired = v & index_mask;
                self.timer.wired_written(now);
            }
            (reg::HWRENA, 0) => self.hwrena = v & HWRENA_WRITABLE,
            (reg::COUNT, 0) => {
                self.timer.set_count(v, now);
                return Cp0Write::Count;
            }
            (reg::ENTRYHI, 0) => {
                let old = self.entry_hi;
                self.entry_hi = v & ENTRYHI_WRITABLE;
                return Cp0Write::EntryHi(old);
            }
            (reg::COMPARE, 0) => {
                self.timer.set_compare(v, now);
                self.cause &= !cause::TI;
                return Cp0Write::Compare;
            }
            (reg::STATUS, 0) => {
                let old = self.status;
                self.status = (old & !status::WRITABLE) | (v & status::WRITABLE);
                return Cp0Write::Status(old);
            }
            (reg::STATUS, 1) => self.intctl = (INTCTL & !INTCTL_WRITABLE) | (v & INTCTL_WRITABLE),
            (reg::CAUSE, 0) => {
                let old = self.cause;
                self.cause = (old & !cause::WRITABLE) | (v & cause::WRITABLE);
                if (old ^ self.cause) & cause::DC != 0 {
                    self.timer.set_stopped(self.cause & cause::DC != 0, now);
                }
                return Cp0Write::Cause(old);
            }
            (reg::EPC, 0) => self.epc = v,
            (reg::PRID, 1) => {
                self.ebase = 0x8000_0000 | (v & EBASE_WRITABLE);
                return Cp0Write::EBase;
            }
            (reg::CONFIG, 0) => {
                self.config0 =
                    (config::CONFIG0 & !config::CONFIG0_WRITABLE) | (v & config::CONFIG0_WRITABLE)
            }
            (reg::ERROREPC, 0) => self.error_epc = v,
            (31, 0) => self.desave = v,
            _ => {}
        }
        Cp0Write::Stored
    }

    /// Count at clock tick `now`.
    #[inline]
    pub fn count(&self, now: u64) -> u32 {
        self.timer.count(now)
    }

    /// Random at clock tick `now`, for a TLB of `entries` entries.
    #[inline]
    pub fn random(&self, now: u64, entries: u32) -> u32 {
        self.timer.random(now, self.wired, entries)
    }

    /// Sets Cause.TI if the clock, at tick `now`, reached the timer's
    /// deadline; returns whether it did.
    #[inline]
    pub fn timer_tick(&mut self, now: u64) -> bool {
        let fired = self.timer.expire(now);
        if fired {
            self.cause |= cause::TI;
        }
        fired
    }

    /// Cause as software reads it: the stored bits, the device lines
    /// `irq_lines` (Cause bits IP6..IP2) and the timer (TI) on IP7.
    #[inline]
    pub fn cause_value(&self, irq_lines: u32) -> u32 {
        let ti = if self.cause & cause::TI != 0 {
            1 << 15
        } else {
            0
        };
        self.cause | irq_lines | ti
    }

    /// Pending interrupts that Status.IM lets through (ignoring IE/EXL):
    /// what ends `wait`.
    #[inline]
    pub fn unmasked_pending(&self, irq_lines: u32) -> u32 {
        self.cause_value(irq_lines) & self.status & status::IM
    }

    /// Whether the timer can ever end a `wait`: Status.IM7 lets it through
    /// and Count runs (Cause.DC clear).
    #[inline]
    pub fn timer_can_wake(&self) -> bool {
        self.status & (1 << 15) != 0 && !self.timer.stopped()
    }

    /// Whether interrupts are enabled: Status.IE set, EXL and ERL clear
    /// (one is then taken if [`Cp0::unmasked_pending`] is not zero).
    #[inline]
    pub fn interrupts_enabled(&self) -> bool {
        let st = self.status;
        st & status::IE != 0 && st & (status::EXL | status::ERL) == 0
    }

    /// The current ASID (EntryHi bits 7..0).
    #[inline]
    pub fn asid(&self) -> u8 {
        (self.entry_hi & ASID_MASK) as u8
    }

    /// Whether the CPU is in kernel mode (KSU=0, or EXL or ERL set).
    #[inline]
    pub fn kernel_mode(&self) -> bool {
        self.status & (status::EXL | status::ERL) != 0 || self.status & status::KSU == 0
    }

    /// Whether CP0 instructions are usable: kernel mode or Status.CU0.
    #[inline]
    pub fn cp0_usable(&self) -> bool {
        self.kernel_mode() || self.status & status::CU0 != 0
    }
}
