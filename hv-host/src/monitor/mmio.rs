//! Devices: each VM has its own UART, emulated by decoding the load or
//! store that trapped on the (never mapped) device page, and its own UHI
//! semihosting console (`sdbbp 1` from the guest's kernel mode raises
//! Reserved Instruction in supervisor mode and is emulated here with the
//! VM's memory). Device semantics are the machine's own (`machine/bus.rs`,
//! `machine/semihost.rs`): a register access of any width reads or writes
//! the byte register, the rest of the UART's page reads zero and ignores
//! writes, UHI `write` may write less than asked
//! ([`semihost::WRITE_MAX`]).

use super::cost;
use super::exit::{Action, ExitCtx, ExitError};
use super::memory::GuestMemory;
use super::stats::ExitReason;
use super::vm::VmStop;
use crate::addr::{GuestPhysAddr, GuestVirtAddr};
use crate::machine::Trap;
use crate::machine::console::Stream;
use crate::machine::decode::{Op, classify};
use crate::machine::insn::regs::T9;
use crate::machine::partial::{PartialStore, partial_load};
use crate::machine::semihost::{self, Outcome};

impl ExitCtx<'_> {
    /// Emulates the load or store at `t.pc` to the device page at
    /// guest-physical `gpa` (virtual `va`).
    pub(super) fn mmio(
        &mut self,
        t: Trap,
        va: GuestVirtAddr,
        gpa: GuestPhysAddr,
    ) -> Result<Action, ExitError> {
        self.count_exit(ExitReason::Mmio);
        self.charge(cost::MMIO);
        let Some(insn) = t.insn else {
            return Err(ExitError::NoInstruction);
        };
        let op = classify(insn);
        // The trap reports the aligned word for the unaligned pairs; the
        // byte offset is the instruction's own effective address's.
        let va = effective_address(self.machine, insn, va);
        let reg = GuestMemory::uart_register(gpa);
        let vm = &mut *self.vm;
        let rt = insn.rt();
        let old = self.machine.gpr(rt);
        let load = |vm: &mut super::Vm, at| {
            GuestMemory::uart_register(at).map_or(0, |r| u32::from(vm.uart.read(r)))
        };
        let value = match op {
            Op::Lb | Op::Lbu | Op::Lh | Op::Lhu | Op::Lw | Op::Ll => {
                Some(complete_load(op, va, load(vm, gpa), old))
            }
            // The aligned word, as the machine reads it.
            Op::Lwl | Op::Lwr => Some(complete_load(op, va, load(vm, gpa.align_down(4)), old)),
            Op::Swl | Op::Swr => {
                let s = PartialStore {
                    left: op == Op::Swl,
                    va,
                    rt: old,
                };
                for (i, b) in s.device_bytes() {
                    if let Some(r) = GuestMemory::uart_register(gpa.align_down(4).wrapping_add(i)) {
                        vm.uart.write(r, b);
                    }
                }
                vm.drain_uart();
                None
            }
            Op::Sb | Op::Sh | Op::Sw => {
                if let Some(r) = reg {
                    vm.uart.write(r, old as u8);
                    vm.drain_uart();
                }
                None
            }
            Op::Sc => {
                let ok = self.machine.ll_bit();
                if ok && let Some(r) = reg {
                    vm.uart.write(r, old as u8);
                    vm.drain_uart();
                }
                self.machine.set_ll_bit(false);
                Some(u32::from(ok))
            }
            _ => {
                return Err(ExitError::UnexpectedAccess(insn));
            }
        };
        if let Some(v) = value {
            self.machine.set_gpr(rt, v);
            if op == Op::Ll {
                self.machine.set_ll_bit(true);
            }
        }
        self.emulated(1);
        self.machine.skip_instruction();
        self.trace(t.pc, t.insn, ExitReason::Mmio, || {
            format!(
                "uart {} at guest-physical {gpa}",
                if value.is_some() { "load" } else { "store" }
            )
        });
        Ok(Action::Resume)
    }

    /// Emulates the load or store at `t.pc` to the Malta board's devices
    /// at guest-physical `gpa` (virtual `va`), as the machine's board does:
    /// the access's width goes to the device, `lwl`/`lwr` read the aligned
    /// word, `swl`/`swr` store the bytes they cover one by one
    /// ([`PartialStore::device_bytes`]), and an address nothing decodes is
    /// a bus error.
    pub(super) fn mmio_board(
        &mut self,
        t: Trap,
        va: GuestVirtAddr,
        gpa: GuestPhysAddr,
    ) -> Result<Action, ExitError> {
        self.count_exit(ExitReason::Mmio);
        self.charge(cost::MMIO);
        let Some(insn) = t.insn else {
            return Err(ExitError::NoInstruction);
        };
        let op = classify(insn);
        // The trap reports the aligned word for the unaligned pairs; the
        // byte offset is the instruction's own effective address's.
        let va = effective_address(self.machine, insn, va);
        let rt = insn.rt();
        let old = self.machine.gpr(rt);
        let now = self.now();
        let (size, word_pa) = match op {
            Op::Lb | Op::Lbu | Op::Sb => (1, gpa.raw()),
            Op::Lh | Op::Lhu | Op::Sh => (2, gpa.raw()),
            Op::Lw | Op::Ll | Op::Sw | Op::Sc => (4, gpa.raw()),
            Op::Lwl | Op::Lwr | Op::Swl | Op::Swr => (4, gpa.raw() & !3),
            _ => {
                return Err(ExitError::UnexpectedAccess(insn));
            }
        };
        let vm = &mut *self.vm;
        let Some(board) = vm.malta.as_mut() else {
            return Err(ExitError::NoBoard);
        };
        let store = matches!(op, Op::Sb | Op::Sh | Op::Sw | Op::Swl | Op::Swr | Op::Sc);
        let value = if store {
            let ok = if op == Op::Sc && !self.machine.ll_bit() {
                true
            } else if matches!(op, Op::Swl | Op::Swr) {
                let s = PartialStore {
                    left: op == Op::Swl,
                    va,
                    rt: old,
                };
                s.device_bytes()
                    .all(|(i, b)| board.write(word_pa + i, 1, u32::from(b), now))
            } else {
                board.write(word_pa, size, old, now)
            };
            if !ok {
                vm.board_accessed(now);
                return self.bus_error(t, crate::machine::exception::ExcCode::Dbe, gpa);
            }
            if op == Op::Sc {
                let done = self.machine.ll_bit();
                self.machine.set_ll_bit(false);
                Some(u32::from(done))
            } else {
                None
            }
        } else {
            let Some(v) = board.read(word_pa, size, now) else {
                vm.board_accessed(now);
                return self.bus_error(t, crate::machine::exception::ExcCode::Dbe, gpa);
            };
            Some(complete_load(op, va, v, old))
        };
        vm.board_accessed(now);
        if let Some(v) = value {
            self.machine.set_gpr(rt, v);
            if op == Op::Ll {
                self.machine.set_ll_bit(true);
            }
        }
        self.emulated(1);
        if !self.vm.stopped() {
            self.machine.skip_instruction();
        }
        self.trace(t.pc, t.insn, ExitReason::Mmio, || {
            format!(
                "board {} at guest-physical {gpa}",
                if store { "store" } else { "load" }
            )
        });
        Ok(Action::Resume)
    }

    /// A UHI semihosting call from the guest's kernel mode, on the VM's
    /// registers, memory ([`ExitCtx::read_guest`]) and console.
    pub(super) fn semihost(&mut self, t: Trap) -> Result<Action, ExitError> {
        self.count_exit(ExitReason::Semihost);
        self.charge(cost::SEMIHOST);
        let op = self.machine.gpr(T9);
        let outcome = semihost::call(&mut SemihostEnv(self));
        self.emulated(1);
        self.machine.skip_instruction();
        match outcome {
            Outcome::Exit(code) => {
                let at = self.now();
                self.trace(t.pc, t.insn, ExitReason::Semihost, || {
                    format!("exit({code})")
                });
                let reason = VmStop::Exited(code);
                Ok(Action::Stop { reason, at })
            }
            Outcome::Returned => {
                self.trace(t.pc, t.insn, ExitReason::Semihost, || {
                    format!("uhi op {op}")
                });
                Ok(Action::Resume)
            }
        }
    }
}

/// The current VM as a semihosting call sees it. Written bytes cost
/// [`cost::PER_BYTE`] each.
struct SemihostEnv<'a, 'b>(&'a mut ExitCtx<'b>);

impl semihost::Env for SemihostEnv<'_, '_> {
    fn gpr(&self, r: u8) -> u32 {
        self.0.machine.gpr(r)
    }
    fn set_gpr(&mut self, r: u8, value: u32) {
        self.0.machine.set_gpr(r, value);
    }
    fn read(&mut self, va: GuestVirtAddr, len: u32) -> Option<Vec<u8>> {
        self.0.read_guest(va, len)
    }
    fn output(&mut self, stream: Stream, bytes: &[u8]) {
        let cx = &mut *self.0;
        cx.charge(cost::PER_BYTE * bytes.len() as u64);
        let vm = &mut *cx.vm;
        match stream {
            Stream::Stdout => &mut vm.console,
            Stream::Stderr => &mut vm.stderr,
        }
        .extend_from_slice(bytes);
    }
}

/// The effective address of the load or store `insn` that trapped at `va`
/// (its aligned word, for `lwl`/`lwr`/`swl`/`swr`): `rs` + offset, which
/// lies in the same word.
fn effective_address(
    machine: &crate::machine::Machine,
    insn: crate::machine::insn::Instruction,
    va: GuestVirtAddr,
) -> GuestVirtAddr {
    match classify(insn) {
        Op::Lwl | Op::Lwr | Op::Swl | Op::Swr => {
            GuestVirtAddr::new(machine.gpr(insn.rs()).wrapping_add(insn.imm_se()))
        }
        _ => va,
    }
}

/// What load `op` at virtual `va` leaves in its target register, given
/// the value the device returned (`v`: the byte register, or the word for
/// `lwl`/`lwr`) and the register's old value: the sign or zero extension,
/// or the little-endian partial-word merge, as the machine's loads do.
fn complete_load(op: Op, va: GuestVirtAddr, v: u32, old: u32) -> u32 {
    match op {
        Op::Lb => v as u8 as i8 as i32 as u32,
        Op::Lbu => v & 0xff,
        Op::Lh => v as u16 as i16 as i32 as u32,
        Op::Lhu => v & 0xffff,
        Op::Lwl | Op::Lwr => partial_load(op == Op::Lwl, va, v, old),
        _ => v,
    }
}
