//! Devices: each VM has its own board ([`crate::machine::board::Board`],
//! built by the machine's board code), and a load or store that trapped
//! on one of its device pages (never mapped) is decoded here and performed
//! on it through the same call the native machine makes
//! ([`Board::load`]/[`Board::store`]: the access's width reaches the
//! device, a partial-word pair `lwl`/`lwr`/`swl`/`swr` is the board's
//! rule); ROM around a device in its page reads as ROM, and an address
//! nothing decodes is a bus error. Each VM also has its own UHI
//! semihosting console (`sdbbp 1` from the guest's kernel mode raises
//! Reserved Instruction in supervisor mode and is emulated here with the
//! VM's memory, by the machine's `semihost::call`; UHI `write` may write
//! less than asked, [`semihost::WRITE_MAX`]).
//!
//! [`Board::load`]: crate::machine::board::Board::load
//! [`Board::store`]: crate::machine::board::Board::store

use super::cost;
use super::exit::{Action, ExitCtx, ExitError};
use super::stats::ExitReason;
use super::vm::VmStop;
use crate::addr::{GuestPhysAddr, GuestVirtAddr};
use crate::machine::Trap;
use crate::machine::board::Width;
use crate::machine::console::Stream;
use crate::machine::decode::{Op, classify};
use crate::machine::exception::ExcCode;
use crate::machine::insn::regs::T9;
use crate::machine::semihost::{self, Outcome};
use crate::machine::unaligned;

impl ExitCtx<'_> {
    /// Emulates the load or store at `t.pc` to the device page at
    /// guest-physical `gpa` on the VM's board.
    pub(super) fn mmio(&mut self, t: Trap, gpa: GuestPhysAddr) -> Result<Action, ExitError> {
        self.count_exit(ExitReason::Mmio);
        self.charge(cost::MMIO);
        let Some(insn) = t.insn else {
            return Err(ExitError::NoInstruction);
        };
        let op = classify(insn);
        let rt = insn.rt();
        let old = self.machine.gpr(rt);
        // The instruction's own address: for the unaligned-word pairs the
        // fault reports the aligned word's.
        let a = self.machine.gpr(insn.rs()).wrapping_add(insn.imm_se());
        // The access's width, and what a store writes.
        let (width, store) = match op {
            Op::Lb | Op::Lbu => (Width::Bytes(1), None),
            Op::Lh | Op::Lhu => (Width::Bytes(2), None),
            Op::Lw | Op::Ll => (Width::Bytes(4), None),
            Op::Lwl => (Width::Lanes(unaligned::left_lanes(a)), None),
            Op::Lwr => (Width::Lanes(unaligned::right_lanes(a)), None),
            Op::Sb => (Width::Bytes(1), Some(old)),
            Op::Sh => (Width::Bytes(2), Some(old)),
            Op::Sw | Op::Sc => (Width::Bytes(4), Some(old)),
            Op::Swl => {
                let (v, lanes) = unaligned::store_left(old, a);
                (Width::LanesDown(lanes), Some(v))
            }
            Op::Swr => {
                let (v, lanes) = unaligned::store_right(old, a);
                (Width::Lanes(lanes), Some(v))
            }
            _ => return Err(ExitError::UnexpectedAccess(insn)),
        };
        let now = self.now();
        let vm = &mut *self.vm;
        let name = vm.board.name_at(GuestPhysAddr::new(gpa.raw()));
        let value = match store {
            // A store conditional whose link is broken stores nothing.
            Some(_) if op == Op::Sc && !self.machine.ll_bit() => Some(0),
            Some(v) => {
                if !vm.board.store(GuestPhysAddr::new(gpa.raw()), width, v, now) {
                    vm.board_accessed(now);
                    return self.bus_error(t, ExcCode::Dbe, gpa);
                }
                (op == Op::Sc).then_some(1)
            }
            None => {
                let Some(v) = vm.board.load(GuestPhysAddr::new(gpa.raw()), width, now) else {
                    vm.board_accessed(now);
                    return self.bus_error(t, ExcCode::Dbe, gpa);
                };
                Some(complete_load(op, a, v, old))
            }
        };
        vm.board_accessed(now);
        if op == Op::Sc {
            self.machine.set_ll_bit(false);
        }
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
        let skip = match (store, value) {
            (None, Some(v)) => self.spin_check(t.pc, gpa, width, v, now),
            _ => None,
        };
        self.trace(t.pc, t.insn, ExitReason::Mmio, || {
            let what = if store.is_some() { "store" } else { "load" };
            let spin = match skip {
                Some(n) => format!(": a polling loop, {n} ticks skipped"),
                None => String::new(),
            };
            format!("{name} {what} at guest-physical {gpa}{spin}")
        });
        Ok(match skip {
            Some(n) => {
                self.spin_wait(n);
                Action::Wait
            }
            None => Action::Resume,
        })
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

/// What load `op` at virtual address `a` leaves in its target register, given
/// the value the device returned (`v`: the register's value, or the
/// aligned word for `lwl`/`lwr`) and the register's old value: the sign or
/// zero extension, or the little-endian partial-word merge, as the
/// machine's loads do.
fn complete_load(op: Op, a: u32, v: u32, old: u32) -> u32 {
    match op {
        Op::Lb => v as u8 as i8 as i32 as u32,
        Op::Lbu => v & 0xff,
        Op::Lh => v as u16 as i16 as i32 as u32,
        Op::Lhu => v & 0xffff,
        Op::Lwl => unaligned::load_left(v, old, a),
        Op::Lwr => unaligned::load_right(v, old, a),
        _ => v,
    }
}
