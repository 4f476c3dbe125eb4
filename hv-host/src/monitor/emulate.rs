//! Trap-and-emulate: the privileged instructions a deprivileged guest
//! kernel executes trap to the monitor (Coprocessor Unusable in supervisor
//! mode; `rdhwr` raises Reserved Instruction) and are emulated here on the
//! VM's virtual CP0 and TLB with the architecture's exact semantics:
//! `mfc0`/`mtc0`, `di`/`ei`, `tlbp`/`tlbr`/`tlbwi`/`tlbwr`, `eret` (the
//! monitor performs the real return, into the VM's user or kernel context
//! as its virtual Status says, clearing LLbit), `wait`, `cache`,
//! `rdpgpr`/`wrpgpr` and `rdhwr`. When the guest writes EBase (installs
//! its handlers) the monitor records it in the exit trace.
//!
//! A privileged instruction from the guest's (virtual) user mode gets the
//! Coprocessor Unusable exception it would get on hardware.

use super::stats::ExitReason;
use super::vcpu::Effects;
use super::{Monitor, cost};
use crate::addr::{GuestVirtAddr, MachineAddr};
use crate::machine::Trap;
use crate::machine::cp0::{self, reg, status};
use crate::machine::decode::{Op, classify};
use crate::machine::insn::Instruction;
use crate::machine::tlb::{TlbEntry, lo};

/// Index in [`super::stats::PRIV_NAMES`] of each emulated instruction.
mod priv_index {
    pub const MFC0: usize = 0;
    pub const MTC0: usize = 1;
    pub const ERET: usize = 2;
    pub const TLBP: usize = 3;
    pub const TLBR: usize = 4;
    pub const TLBWI: usize = 5;
    pub const TLBWR: usize = 6;
    pub const DI: usize = 7;
    pub const EI: usize = 8;
    pub const RDHWR: usize = 9;
    pub const RDPGPR: usize = 10;
    pub const WRPGPR: usize = 11;
}

impl Monitor {
    /// Counts `n` instructions the monitor completed for the guest.
    pub(super) fn emulated(&mut self, n: u64) {
        let s = &mut self.vms[self.cur].stats;
        s.guest_instructions += n;
        s.emulated_instructions += n;
        self.charge(cost::EMULATE * n);
    }

    fn count_priv(&mut self, i: usize) {
        self.vms[self.cur].stats.privileged[i] += 1;
    }

    /// A Coprocessor Unusable exception for CP0.
    pub(super) fn privileged(&mut self, t: Trap) {
        let Some(insn) = t.insn else {
            return self.forward_trap(t, ExitReason::CopUnusable);
        };
        if !self.vms[self.cur].cp0.cp0_usable() {
            return self.forward_trap(t, ExitReason::CopUnusable);
        }
        let now = self.now();
        let op = classify(insn);
        match op {
            Op::Mfc0 => {
                let v = self.read_cp0(insn.rd(), insn.sel(), now);
                self.machine.set_gpr(insn.rt(), v);
                self.count_priv(priv_index::MFC0);
            }
            Op::Mtc0 => {
                let v = self.machine.gpr(insn.rt());
                let fx = self.vms[self.cur].cp0.write(insn.rd(), insn.sel(), v, now);
                self.count_priv(priv_index::MTC0);
                self.apply_effects(fx);
                if fx.ebase {
                    let ebase = self.vms[self.cur].cp0.regs.ebase;
                    self.trace(t.pc, t.insn, ExitReason::CopUnusable, || {
                        format!("guest installed its exception handlers at EBase {ebase:#010x}")
                    });
                }
            }
            Op::Di | Op::Ei => {
                let c = &mut self.vms[self.cur].cp0.regs;
                let old = c.status;
                c.status = if op == Op::Ei {
                    old | status::IE
                } else {
                    old & !status::IE
                };
                self.machine.set_gpr(insn.rt(), old);
                self.count_priv(if op == Op::Ei {
                    priv_index::EI
                } else {
                    priv_index::DI
                });
            }
            Op::Rdpgpr | Op::Wrpgpr => {
                let v = self.machine.gpr(insn.rt());
                self.machine.set_gpr(insn.rd(), v);
                self.count_priv(if op == Op::Rdpgpr {
                    priv_index::RDPGPR
                } else {
                    priv_index::WRPGPR
                });
            }
            Op::Tlbp => {
                let vm = &mut self.vms[self.cur];
                vm.cp0.regs.index = match vm.tlb.probe(vm.cp0.regs.entry_hi) {
                    Some(i) => i as u32,
                    None => cp0::INDEX_P,
                };
                self.count_priv(priv_index::TLBP);
            }
            Op::Tlbr => {
                let vm = &mut self.vms[self.cur];
                let e = *vm
                    .tlb
                    .entry(vm.tlb.wrap(vm.cp0.regs.index & vm.cp0.index_mask()));
                let g = if e.global { lo::G } else { 0 };
                let c = &mut vm.cp0.regs;
                let asid_changed = (c.entry_hi ^ e.entry_hi) & cp0::ASID_MASK != 0;
                c.page_mask = e.page_mask;
                c.entry_lo0 = e.lo0 | g;
                c.entry_lo1 = e.lo1 | g;
                c.entry_hi = e.entry_hi;
                self.count_priv(priv_index::TLBR);
                self.apply_effects(Effects {
                    asid: asid_changed,
                    ..Effects::default()
                });
            }
            Op::Tlbwi | Op::Tlbwr => {
                let vm = &mut self.vms[self.cur];
                let raw = if op == Op::Tlbwi {
                    vm.cp0.regs.index & vm.cp0.index_mask()
                } else {
                    vm.cp0.take_random(now)
                };
                let index = vm.tlb.wrap(raw);
                let c = &vm.cp0.regs;
                let entry =
                    TlbEntry::from_registers(c.page_mask, c.entry_hi, c.entry_lo0, c.entry_lo1);
                vm.tlb.write(index, entry);
                self.guest_tlb_written(index);
                self.prefill(index);
                self.count_priv(if op == Op::Tlbwi {
                    priv_index::TLBWI
                } else {
                    priv_index::TLBWR
                });
            }
            Op::Eret => {
                self.count_priv(priv_index::ERET);
                self.count_exit(ExitReason::CopUnusable);
                self.emulated(1);
                self.eret();
                let to = self.machine.pc();
                self.trace(t.pc, t.insn, ExitReason::CopUnusable, || {
                    format!("eret to {to}")
                });
                return;
            }
            Op::Wait => {
                self.emulated(1);
                self.machine.skip_instruction();
                self.enter_wait();
                self.trace(t.pc, t.insn, ExitReason::Wait, || {
                    "vm waits for an interrupt".into()
                });
                return;
            }
            Op::Cache => {
                self.emulated(1);
                self.count_exit(ExitReason::Cache);
                self.machine.skip_instruction();
                self.trace(t.pc, t.insn, ExitReason::Cache, || {
                    "no caches modelled".into()
                });
                return;
            }
            _ => return self.forward_trap(t, ExitReason::CopUnusable),
        }
        self.count_exit(ExitReason::CopUnusable);
        self.emulated(1);
        self.machine.skip_instruction();
        self.trace(t.pc, t.insn, ExitReason::CopUnusable, || {
            format!("emulated {insn}")
        });
    }

    /// MFC0 on the virtual CP0 (LLAddr reflects the guest's last `ll`).
    fn read_cp0(&mut self, rd: u8, sel: u8, now: u64) -> u32 {
        let vm = &self.vms[self.cur];
        if (rd, sel) == (reg::LLADDR, 0) {
            let real = MachineAddr::new(self.machine.real_cp0(reg::LLADDR, 0) << 4);
            if let Some(gpa) = vm.mem.reverse(real) {
                return gpa.raw() >> 4;
            }
        }
        vm.cp0.read(rd, sel, now, vm.irq_lines())
    }

    /// Acts on what a virtual CP0 write changed.
    fn apply_effects(&mut self, fx: Effects) {
        if fx.erl {
            self.erl_changed();
        }
        if fx.mode || fx.asid {
            self.apply_mode();
        }
    }

    /// ERET on the virtual CPU.
    fn eret(&mut self) {
        let c = &mut self.vms[self.cur].cp0.regs;
        let st = c.status;
        let target = if st & status::ERL != 0 {
            c.status = st & !status::ERL;
            c.error_epc
        } else {
            c.status = st & !status::EXL;
            c.epc
        };
        let erl = st & status::ERL != 0;
        self.machine.set_ll_bit(false);
        self.machine.jump_to(GuestVirtAddr::new(target));
        self.apply_effects(Effects {
            mode: true,
            erl,
            ..Effects::default()
        });
    }

    /// A Reserved Instruction exception: a semihosting call, `rdhwr` and
    /// (under `--mode para`) a hypercall are handled; anything else is
    /// forwarded.
    pub(super) fn reserved(&mut self, t: Trap) {
        let Some(insn) = t.insn else {
            return self.forward_trap(t, ExitReason::ResvdInst);
        };
        let vm = &self.vms[self.cur];
        match classify(insn) {
            Op::Sdbbp if insn.code20() == 1 && vm.cp0.kernel_mode() => self.semihost(t),
            Op::Rdhwr => self.rdhwr(t, insn),
            _ if self.config.hypercalls && hv_abi::is_hypcall(insn.word()) => {
                self.hypercall(t, insn.word())
            }
            _ => self.forward_trap(t, ExitReason::ResvdInst),
        }
    }

    /// RDHWR: 0 CPUNum, 1 SYNCI_Step, 2 CC (the VM's Count), 3 CCRes, 29
    /// UserLocal; allowed in kernel mode, with CU0, or with the HWREna bit.
    fn rdhwr(&mut self, t: Trap, insn: Instruction) {
        let n = u32::from(insn.rd());
        let vm = &self.vms[self.cur];
        let allowed =
            matches!(n, 0..=3 | 29) && (vm.cp0.cp0_usable() || vm.cp0.regs.hwrena & (1 << n) != 0);
        if !allowed {
            return self.forward_trap(t, ExitReason::ResvdInst);
        }
        let v = match n {
            2 => vm.cp0.count(self.now()),
            3 => 1,
            29 => vm.cp0.regs.user_local,
            _ => 0,
        };
        self.machine.set_gpr(insn.rt(), v);
        self.count_priv(priv_index::RDHWR);
        self.count_exit(ExitReason::ResvdInst);
        self.emulated(1);
        self.machine.skip_instruction();
        self.trace(t.pc, t.insn, ExitReason::ResvdInst, || {
            format!("emulated {insn}")
        });
    }
}
