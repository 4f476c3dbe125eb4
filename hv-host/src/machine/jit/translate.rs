//! From guest instructions to Cranelift IR: which instructions a block may
//! hold ([`plan`]) and the code for each of them ([`emit`]).
//!
//! A translated block is straight-line code from its first instruction up
//! to and including a branch and its delay slot, the end of the page (or,
//! when the page after it is known, the end of that one: the block checks
//! on entry that the page still has the same translation, and leaves
//! before its first instruction there if not), the first instruction it
//! does not hold, or [`MAX_BLOCK`] instructions, whichever comes first; a conditional branch that is not a
//! branch-likely does not end it but is a side exit (the block goes on
//! along the path not taken: a superblock). It holds
//! only instructions whose whole effect is on registers and plain memory:
//! ALU, multiply/divide, bit-field, loads and stores, branches and jumps.
//! Everything that can change mode, translation or interrupt state, talk
//! to a device, or raise an exception on purpose (CP0, TLB, `eret`,
//! `wait`, `syscall`, `break`, `cache`, `ll`/`sc`, `lwl`..`swr`, reserved
//! encodings) ends the block *before* it, and the interpreter runs it.
//! Traps are held: one whose condition holds leaves the block before it,
//! as a fault does (below).
//!
//! **Exactness.** An instruction that may fault (`add` overflow, a
//! misaligned address, a load or store the translation cache does not
//! hold, a store to a page holding code, a device) is checked *before* it
//! has any effect; if the check fails the block leaves with the machine
//! exactly as the interpreter would have it before that instruction (PC,
//! the delay-slot state and its branch target, the registers, the count of
//! instructions executed), and the interpreter runs the instruction, fault
//! and all. So every exception is raised by the one exception code.
//!
//! **Containment.** Guest memory is reached only at `mem + off` where `off`
//! is the page offset of a translation-cache entry (which holds only
//! translations the MMU granted to plain memory, and only whole pages
//! inside the memory buffer: `machine/xlat.rs` checks that when it fills
//! an entry) plus the address's low 12 bits, or, for a kseg0 address in
//! kernel mode, `va - 0x8000_0000` checked below [`JitCtx::kseg0_limit`]
//! (at most the low RAM's size, which lies inside the buffer): never a
//! host pointer built from a guest value.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, InstBuilder, MemFlagsData as MemFlags, Type, Value, types};
use cranelift_frontend::{FunctionBuilder, Variable};

use crate::machine::code::NO_SLOT;
use crate::machine::decode::{Decoded, Op, SINK};
use crate::machine::xlat::CODE_BIT;

/// The most instructions one block holds.
pub const MAX_BLOCK: usize = 32;

/// The context translated code runs with: `repr(C)`, read and written by
/// generated code at fixed field offsets.
#[derive(Debug)]
#[repr(C)]
pub struct JitCtx {
    /// The machine's register file (64 slots; `$zero` and [`SINK`] included).
    pub gpr: *mut u32,
    /// HI.
    pub hi: *mut u32,
    /// LO.
    pub lo: *mut u32,
    /// The memory buffer (every translation-cache entry maps a whole page
    /// inside it: see `machine/xlat.rs`).
    pub mem: *mut u8,
    /// The current regime's read translation set (256 entries).
    pub xlat_read: *const u8,
    /// The current regime's write translation set (256 entries).
    pub xlat_write: *const u8,
    /// The current ASID, in its place in translation-cache keys
    /// (`Xlat::asid`).
    pub asid: u32,
    /// Bytes of kseg0 from its start that are plain memory at the same
    /// offset in the memory buffer in the current mode: the low RAM (at
    /// most 512 MiB) in kernel mode, where kseg0 is unmapped with
    /// `pa = va - 0x8000_0000` and low RAM is at buffer offset `pa`; zero
    /// in other modes. Loads and stores there need no translation cache.
    pub kseg0_limit: u32,
    /// The code cache's slot of each page of the memory buffer
    /// (`NO_SLOT` for a page holding no code): at least
    /// `kseg0_limit / 4096` entries.
    pub slot_of: *const u32,
    /// The dispatch table ([`super::TABLE_ENTRIES`] entries of
    /// [`super::ENTRY_SIZE`] bytes), for chaining.
    pub table: *const u8,
    /// The code cache's generation of each slot, and how many there are.
    pub gens: *const u32,
    /// Number of entries at `gens`.
    pub gens_len: u64,
    /// In: instructions the blocks may execute from this entry, in all
    /// (the trampoline passes it to the first block).
    pub budget: u64,
    /// Out: what was left of the budget when the last block began its
    /// exit (the run loop subtracts that exit's own count).
    pub left: u64,
    /// Out: block exits chained since the entry.
    pub chained: u64,
    /// The chaining stub (see [`emit_stub`]).
    pub stub: *const u8,
    /// Changes whenever a target's block as the chaining stub finds it
    /// may have changed: the translation cache, the regime or ASID, a
    /// page's generation, the compiled code (the run loop compares them
    /// before each entry: `Machine::enter_block`). Exits through the stub
    /// trust their cell ([`ChainCell`]) while it holds this epoch.
    pub epoch: u64,
    /// Out: the next instruction to execute, where only the code knows it.
    pub pc: u32,
    /// Out: the one after it, likewise.
    pub next_pc: u32,
    /// Out of the lookup thunk ([`emit_lookup`]): a buffer offset, or -1.
    pub lookup: i64,
}

impl JitCtx {
    /// A context with null pointers, to be filled before each entry.
    pub fn empty() -> Self {
        Self {
            gpr: core::ptr::null_mut(),
            hi: core::ptr::null_mut(),
            lo: core::ptr::null_mut(),
            mem: core::ptr::null_mut(),
            xlat_read: core::ptr::null(),
            xlat_write: core::ptr::null(),
            asid: 0,
            kseg0_limit: 0,
            slot_of: core::ptr::null(),
            table: core::ptr::null(),
            gens: core::ptr::null(),
            gens_len: 0,
            budget: 0,
            left: 0,
            chained: 0,
            stub: core::ptr::null(),
            epoch: 0,
            pc: 0,
            next_pc: 0,
            lookup: 0,
        }
    }
}

/// Field offsets of [`ChainCell`].
const CELL_CODE: i32 = core::mem::offset_of!(ChainCell, code) as i32;
const CELL_LEN: i32 = core::mem::offset_of!(ChainCell, len) as i32;
const CELL_VPC: i32 = core::mem::offset_of!(ChainCell, vpc) as i32;
const CELL_EPOCH: i32 = core::mem::offset_of!(ChainCell, epoch) as i32;

/// Field offsets of [`JitCtx`].
pub(crate) mod offsets {
    use super::JitCtx;
    use core::mem::offset_of;
    pub const GPR: i32 = offset_of!(JitCtx, gpr) as i32;
    pub const HI: i32 = offset_of!(JitCtx, hi) as i32;
    pub const LO: i32 = offset_of!(JitCtx, lo) as i32;
    pub const MEM: i32 = offset_of!(JitCtx, mem) as i32;
    pub const XLAT_READ: i32 = offset_of!(JitCtx, xlat_read) as i32;
    pub const XLAT_WRITE: i32 = offset_of!(JitCtx, xlat_write) as i32;
    pub const ASID: i32 = offset_of!(JitCtx, asid) as i32;
    pub const KSEG0_LIMIT: i32 = offset_of!(JitCtx, kseg0_limit) as i32;
    pub const SLOT_OF: i32 = offset_of!(JitCtx, slot_of) as i32;
    pub const TABLE: i32 = offset_of!(JitCtx, table) as i32;
    pub const GENS: i32 = offset_of!(JitCtx, gens) as i32;
    pub const GENS_LEN: i32 = offset_of!(JitCtx, gens_len) as i32;
    pub const BUDGET: i32 = offset_of!(JitCtx, budget) as i32;
    pub const LEFT: i32 = offset_of!(JitCtx, left) as i32;
    pub const CHAINED: i32 = offset_of!(JitCtx, chained) as i32;
    pub const STUB: i32 = offset_of!(JitCtx, stub) as i32;
    pub const EPOCH: i32 = offset_of!(JitCtx, epoch) as i32;
    pub const PC: i32 = offset_of!(JitCtx, pc) as i32;
    pub const NEXT_PC: i32 = offset_of!(JitCtx, next_pc) as i32;
    pub const LOOKUP: i32 = offset_of!(JitCtx, lookup) as i32;
}

/// What kind of instruction an operation is for the translator.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Straight-line: registers and plain memory only.
    Simple,
    /// A branch or jump (with a delay slot).
    Branch,
    /// Not translated: ends the block before it.
    Stop,
}

/// Whether `d`, a branch, is always taken whatever the registers hold:
/// `beq r, r` (the assembler's `b`), `blez`/`bgez`/`bgezal` of `$zero`
/// (`bal`), and their branch-likely forms (whose slot then always runs).
pub fn always_taken(d: Decoded) -> bool {
    use Op::*;
    match d.op {
        J | Jal | Jr | Jalr => true,
        Beq | Beql => d.rs == d.rt,
        Blez | Blezl | Bgez | Bgezl | Bgezal | Bgezall => d.rs == 0,
        _ => false,
    }
}

/// The translator's view of an operation.
pub fn kind(op: Op) -> Kind {
    use Op::*;
    match op {
        Nop | Sll | Srl | Sra | Rotr | Sllv | Srlv | Srav | Rotrv | Movz | Movn | Mfhi | Mthi
        | Mflo | Mtlo | Mult | Multu | Div | Divu | Add | Addu | Sub | Subu | And | Or | Xor
        | Nor | Slt | Sltu | Addi | Addiu | Slti | Sltiu | Andi | Ori | Xori | Lui | Madd
        | Maddu | Mul | Msub | Msubu | Clz | Clo | Ext | Ins | Wsbh | Seb | Seh | Lb | Lh | Lw
        | Lbu | Lhu | Sb | Sh | Sw | Tge | Tgeu | Tlt | Tltu | Teq | Tne | Tgei | Tgeiu | Tlti
        | Tltiu | Teqi | Tnei => Kind::Simple,
        Beq | Bne | Blez | Bgtz | Bltz | Bgez | Bltzal | Bgezal | J | Jal | Jr | Jalr | Beql
        | Bnel | Blezl | Bgtzl | Bltzl | Bgezl | Bltzall | Bgezall => Kind::Branch,
        _ => Kind::Stop,
    }
}

/// A block to translate: its instructions with their addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Virtual address of each instruction, and the instruction.
    pub insns: Vec<(u32, Decoded)>,
    /// Whether the last two are a branch and its delay slot. Earlier
    /// branches (conditional, not likely) are side exits: the block goes
    /// on with the instruction after their delay slot.
    pub ends_in_branch: bool,
}

/// Plans the block starting at virtual address `pc`, reading instruction
/// words with `word(address)`, which gives `None` for an address the block
/// may not hold (one outside the block's page and the page after it, or in
/// a page whose translation is not known). An empty plan means the first
/// instruction is not translated.
pub fn plan(pc: u32, word: impl FnMut(u32) -> Option<u32>) -> Plan {
    plan_until(pc, word, |_| false)
}

/// [`plan`], ending the block before any instruction after its first for
/// which `stop` holds (the head of another block of its region: the
/// block then goes on there, and that code is not translated twice).
fn plan_until(
    pc: u32,
    mut word: impl FnMut(u32) -> Option<u32>,
    stop: impl Fn(u32) -> bool,
) -> Plan {
    let mut insns = Vec::new();
    let mut a = pc;
    loop {
        if insns.len() >= MAX_BLOCK || (a != pc && stop(a)) {
            break;
        }
        let Some(w) = word(a) else {
            break;
        };
        let d = crate::machine::decode::decode(crate::machine::insn::Instruction(w));
        match kind(d.op) {
            Kind::Simple => insns.push((a, d)),
            Kind::Branch => {
                // The delay slot must be one the block may hold, and
                // simple.
                let slot = a.wrapping_add(4);
                if insns.len() + 2 > MAX_BLOCK {
                    break;
                }
                let Some(sw) = word(slot) else {
                    break;
                };
                let s = crate::machine::decode::decode(crate::machine::insn::Instruction(sw));
                if kind(s.op) != Kind::Simple {
                    break;
                }
                insns.push((a, d));
                insns.push((slot, s));
                // A conditional branch is a side exit: the block goes on
                // along the path not taken (a superblock). Branch-likely
                // (whose slot runs on one path only), jumps and a branch
                // that is always taken end the block.
                let side_exit = matches!(
                    d.op,
                    Op::Beq
                        | Op::Bne
                        | Op::Blez
                        | Op::Bgtz
                        | Op::Bltz
                        | Op::Bgez
                        | Op::Bltzal
                        | Op::Bgezal
                ) && !always_taken(d);
                let next = slot.wrapping_add(4);
                if !side_exit || word(next).is_none() || insns.len() + 1 >= MAX_BLOCK {
                    return Plan {
                        insns,
                        ends_in_branch: true,
                    };
                }
                a = next;
                continue;
            }
            Kind::Stop => break,
        }
        a = a.wrapping_add(4);
    }
    Plan {
        insns,
        ends_in_branch: false,
    }
}

/// The most blocks one region holds.
pub const MAX_REGION_BLOCKS: usize = 8;
/// The most instructions one region holds.
pub const MAX_REGION_INSNS: usize = 160;

impl Plan {
    /// The addresses this block may go on to that are known when it is
    /// translated: branch targets, the paths not taken, the instruction
    /// after its end.
    pub fn successors(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let n = self.insns.len();
        for (i, &(pc, d)) in self.insns.iter().enumerate() {
            if kind(d.op) != Kind::Branch {
                continue;
            }
            let slot = pc.wrapping_add(4);
            if let Some(t) = const_target(pc, d) {
                out.push(t);
            }
            let last = self.ends_in_branch && i + 2 == n;
            if last && !always_taken(d) {
                out.push(slot.wrapping_add(4));
            }
        }
        if !self.ends_in_branch
            && let Some(&(pc, _)) = self.insns.last()
        {
            out.push(pc.wrapping_add(4));
        }
        out
    }
}

/// Plans the region starting at `pc`: its block, then (breadth first) the
/// blocks that its known successors for which `warm` holds (code the
/// interpreter has run often: see `Jit::is_warm`) and that `word` gives
/// start (see [`plan`]), up to [`MAX_REGION_BLOCKS`] blocks and
/// [`MAX_REGION_INSNS`] instructions. Translated as one function, the
/// region's blocks go to each other with plain jumps (no call, no lookup),
/// keeping guest registers in host registers round a loop; cold paths are
/// left out (compiling them would cost more than it saves). An empty
/// result means the first instruction is not translated.
pub fn region(
    pc: u32,
    mut word: impl FnMut(u32) -> Option<u32>,
    warm: impl Fn(u32) -> bool,
) -> Vec<Plan> {
    let first = plan(pc, &mut word);
    if first.insns.is_empty() {
        return Vec::new();
    }
    let mut total = first.insns.len();
    let mut out = vec![first];
    let mut next = 0;
    while next < out.len() && out.len() < MAX_REGION_BLOCKS {
        for t in out[next].successors() {
            if out.len() >= MAX_REGION_BLOCKS {
                break;
            }
            if !warm(t)
                || word(t).is_none()
                || t & 3 != 0
                || out
                    .iter()
                    .any(|p| p.insns.first().map(|&(a, _)| a) == Some(t))
            {
                continue;
            }
            let p = plan(t, &mut word);
            if p.insns.is_empty() || total + p.insns.len() > MAX_REGION_INSNS {
                continue;
            }
            total += p.insns.len();
            out.push(p);
        }
        next += 1;
    }
    // Each block ends where another begins: a superblock running on
    // through the head of another block of the region would translate
    // that code twice (or more, round a loop); it goes on there instead.
    let starts: Vec<u32> = out
        .iter()
        .map(|p| p.insns.first().map_or(0, |&(a, _)| a))
        .collect();
    for (p, &start) in out.iter_mut().zip(&starts) {
        *p = plan_until(start, &mut word, |a| starts.contains(&a));
    }
    out
}

/// The most registers (GPRs, HI and LO counting as one) a region that
/// loops may use and still keep them all in host registers across the
/// heads of its blocks (`Emitter::carry`).
pub const CARRY_MAX: u32 = 8;

/// Variables: GPRs 1..=32 (32 being [`SINK`]), then HI and LO.
const HI: usize = 33;
const LO: usize = 34;
const VARS: usize = 35;

/// Where the block would leave if the instruction being emitted bails.
#[derive(Clone, Copy)]
struct Bail {
    pc: u32,
    /// The next PC after it.
    next_pc: BailNext,
    delay: bool,
    executed: u32,
}

/// The next PC of a bail: known at translation time, or (a delay slot)
/// computed at run time, by the leaving path only, which stores it into
/// [`JitCtx::next_pc`].
#[derive(Clone, Copy)]
enum BailNext {
    Const(u32),
    /// The target of a jump through a register.
    Dyn(Value),
    /// A conditional branch's: if the condition is non-zero the first,
    /// else the second.
    Cond(Value, u32, u32),
}

/// A next-PC value known at translation time or only at run time.
#[derive(Clone, Copy)]
enum Next {
    Const(u32),
    Dyn(Value),
}

/// What a region was planned with, besides its instructions.
#[derive(Clone, Copy, Debug, Default)]
pub struct Planned {
    /// See [`Placement::page2`].
    pub page2: Option<(u32, u32)>,
    /// See [`Placement::kseg0`].
    pub kseg0: Option<u32>,
}

/// Where a block is: what its code needs to chain to its successors.
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    /// Virtual address of the block's page.
    pub vpage: u32,
    /// The number of the block's first exit in the translator's table of
    /// exits (the code returns `first_exit + k`).
    pub first_exit: u32,
    /// The address of the chain cell of exit `first_exit`, followed by
    /// those of the next [`MAX_EXITS`] - 1 exits.
    pub cells: usize,
    /// The page after the block's (its virtual address and the buffer
    /// offset it had when the block was planned), if the region holds
    /// instructions from there. Its code is the block's as much as the
    /// first page's (the code cache links the two pages' generations),
    /// but its translation may differ the next time the block runs: the
    /// block checks it on entry and leaves before the first instruction
    /// from that page if it is not the same.
    pub page2: Option<(u32, u32)>,
    /// For code translated in kernel mode, which likely runs in kernel
    /// mode again: the [`JitCtx::kseg0_limit`] it had then (non-zero).
    /// Loads and stores then try kseg0 straight, against this constant,
    /// before the translation cache; the block checks on entry that the
    /// context's limit is still this one, and leaves before its first
    /// instruction if not. `None` elsewhere (there the limit is zero, and
    /// the test would only cost).
    pub kseg0: Option<u32>,
    /// The lookup thunk ([`emit_lookup`]), called by code translated
    /// with `kseg0`.
    pub lookup: usize,
}

/// How a block left, by the number its code returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The next PC, or `None` if the code stored it in [`JitCtx::pc`].
    pub pc: Option<u32>,
    /// The one after, or `None` if the code stored it in
    /// [`JitCtx::next_pc`].
    pub next_pc: Option<u32>,
    /// Whether `pc` is a delay slot.
    pub delay: bool,
    /// Instructions executed.
    pub executed: u32,
    /// Whether the block stopped before an instruction it could not run.
    pub bailed: bool,
    /// Whether the exit chains through its own [`ChainCell`] (a constant
    /// target in the block's page), which the run loop fills.
    pub cell: bool,
}

/// The exits of one region that may have a chain cell (a region has at
/// most a guard per instruction, a side exit per branch, and per block
/// three at its end and the check of the page after its own; exits past
/// this many chain through the stub instead).
pub const MAX_EXITS: u32 = 2 * MAX_REGION_INSNS as u32 + 4 * MAX_REGION_BLOCKS as u32 + 8;

/// Where one exit to a known target in the block's own page chains to:
/// the target's block, once the run loop has seen the exit taken and the
/// target translated. Such a target needs no lookup at run time: it has
/// the exiting block's translation (same page), and the same generation
/// (a block runs only while its page's generation is the one it was made
/// for, and translated code never changes a generation), so a block
/// filled in once stays right for as long as the exiting block can run.
///
/// An exit that goes through the chaining stub (a target in another page,
/// or known only at run time: `jr`) has a cell too, used as a one-entry
/// cache of the stub's answer: the stub fills in the target it found
/// (`vpc`) and the context's [`JitCtx::epoch`], and the exit goes straight
/// to `code` while its target and the epoch are the same. The epoch
/// changes whenever anything the stub's answer depends on may have
/// changed (see `JitCtx::epoch`).
/// `repr(C)`: translated code reads it.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct ChainCell {
    /// The target's compiled block, or null.
    pub code: *const u8,
    /// Its instructions (its most), or `u64::MAX` while empty.
    pub len: u64,
    /// Through the stub: the target the stub found `code` for.
    pub vpc: u32,
    /// Unused: keeps `epoch` aligned.
    pub pad: u32,
    /// Through the stub: the [`JitCtx::epoch`] it was found in
    /// (`u64::MAX`, which no epoch reaches, while empty).
    pub epoch: u64,
}

impl Exit {
    /// A number no block returns (padding in the table of exits).
    pub const UNUSED: Exit = Exit {
        pc: None,
        next_pc: None,
        delay: false,
        executed: 0,
        bailed: false,
        cell: false,
    };
}

impl ChainCell {
    /// A cell not filled in.
    pub const EMPTY: ChainCell = ChainCell {
        code: core::ptr::null(),
        len: u64::MAX,
        vpc: 0,
        pad: 0,
        epoch: u64::MAX,
    };
}

/// Emits the IR of `region` (its first block is the entry; see [`region`])
/// into `b`, whose function takes a pointer to a [`JitCtx`], the budget
/// left and the chained count, and returns the number of the exit it
/// took; returns the exits.
pub fn emit(b: &mut FunctionBuilder<'_>, ptr: Type, region: &[Plan], at: Placement) -> Vec<Exit> {
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry);
    let (ctx, left, chained) = (params[0], params[1], params[2]);
    let sig = b.func.signature.clone();
    let sig = b.import_signature(sig);
    let stub_sig = b.import_signature(stub_signature(ptr));
    let mut e = Emitter::new(b, ptr, [ctx, left, chained], region, at);
    e.sig = Some(sig);
    e.stub_sig = Some(stub_sig);
    if let (Some(limit), Some(&(start, first, _))) = (at.kseg0, e.heads.first()) {
        // Made for kernel mode with this kseg0: leave before the first
        // instruction if that is not so now.
        let now =
            e.b.ins()
                .load(types::I32, flags(), ctx, offsets::KSEG0_LIMIT);
        let other = e.b.ins().icmp_imm_s(IntCC::NotEqual, now, c(limit));
        e.guard(
            other,
            Bail {
                pc: start,
                next_pc: BailNext::Const(start.wrapping_add(4)),
                delay: false,
                executed: 0,
            },
        );
        e.b.ins().jump(first, &[]);
    } else if let Some(&(_, first, _)) = e.heads.first() {
        e.b.ins().jump(first, &[]);
    }
    for (i, plan) in region.iter().enumerate() {
        let head = e.heads[i].1;
        e.b.switch_to_block(head);
        e.body(plan);
    }
    let (ret, left, chained) = (e.ret, e.left, e.chained);
    let exits = e.exits;
    b.switch_to_block(ret);
    b.seal_block(ret);
    let k = b.block_params(ret)[0];
    let l = b.use_var(left);
    b.ins().store(flags(), l, ctx, offsets::LEFT);
    let n = b.use_var(chained);
    b.ins().store(flags(), n, ctx, offsets::CHAINED);
    b.ins().return_(&[k]);
    exits
}

struct Emitter<'a, 'b> {
    b: &'a mut FunctionBuilder<'b>,
    ptr: Type,
    ctx: Value,
    vars: [Variable; VARS],
    /// The exits emitted so far.
    exits: Vec<Exit>,
    /// The return block: returns its parameter, the exit's number.
    ret: ir::Block,
    /// Where the block is.
    at: Placement,
    /// The blocks' signature, for chaining.
    sig: Option<ir::SigRef>,
    /// The chaining stub's signature.
    stub_sig: Option<ir::SigRef>,
    /// The lookup thunk's signature, once imported.
    lookup_sig: Option<ir::SigRef>,
    /// Each block of the region: its first instruction's address, the IR
    /// block it starts at (the target of a jump from any block of the
    /// region, itself included) and its instructions.
    heads: Vec<(u32, ir::Block, u32)>,
    /// What is left of the budget before the current pass (a parameter
    /// of the block; stored into [`JitCtx::left`] on leaving).
    left: Variable,
    /// Chained exits since the run loop entered translated code (a
    /// parameter; stored into [`JitCtx::chained`] on leaving).
    chained: Variable,
    gpr: Value,
    /// The memory base pointers, once loaded.
    mem: MemBase,
    /// The registers whose variable holds their value (bit n for GPR n,
    /// [`HI`], [`LO`]).
    loaded: u64,
    /// Whether register values and base pointers are kept in variables
    /// from the region's entry across the heads of its blocks (loaded
    /// there once, see [`CARRY_MAX`]); if not, each block loads what it
    /// uses where first needed.
    carry: bool,
    /// Non-zero if the page after the block's no longer has the
    /// translation the block was made for ([`Placement::page2`]).
    page2_fail: Option<Value>,
    /// Whether the block being emitted has checked [`Emitter::page2_fail`]
    /// on its path so far.
    crossed: bool,
}

/// What loads, stores and HI/LO need from the context, each loaded where
/// first needed.
#[derive(Clone, Copy, Default)]
struct MemBase {
    hi: Option<Value>,
    lo: Option<Value>,
    mem: Option<Value>,
    read: Option<Value>,
    write: Option<Value>,
    asid: Option<Value>,
    slot_of: Option<Value>,
}

/// The target of a branch or jump at `pc` known at translation time.
fn const_target(pc: u32, d: Decoded) -> Option<u32> {
    let slot = pc.wrapping_add(4);
    match kind(d.op) {
        Kind::Branch => match d.op {
            Op::J | Op::Jal => Some((slot & 0xf000_0000) | d.imm),
            Op::Jr | Op::Jalr => None,
            _ => Some(slot.wrapping_add(d.imm)),
        },
        _ => None,
    }
}

/// A 32-bit immediate as Cranelift wants it: sign-extended to 64 bits.
fn c(v: u32) -> i64 {
    i64::from(v as i32)
}

fn flags() -> MemFlags {
    MemFlags::trusted()
}

fn guest_flags() -> MemFlags {
    let mut f = MemFlags::new();
    f.set_notrap();
    f.set_endianness(ir::Endianness::Little);
    f
}

impl<'a, 'b> Emitter<'a, 'b> {
    fn new(
        b: &'a mut FunctionBuilder<'b>,
        ptr: Type,
        [ctx, left0, chained0]: [Value; 3],
        region: &[Plan],
        at: Placement,
    ) -> Self {
        let ret = b.create_block();
        b.append_block_param(ret, types::I32);
        let vars = core::array::from_fn(|_| b.declare_var(types::I32));
        let gpr = b.ins().load(ptr, flags(), ctx, offsets::GPR);
        let mut uses_hilo = false;
        let mut uses_mem = false;
        let mut stores = false;
        let mut used = 0u64;
        for &(_, d) in region.iter().flat_map(|p| &p.insns) {
            used |= reg_uses(d);
            uses_hilo |= matches!(
                d.op,
                Op::Mfhi
                    | Op::Mthi
                    | Op::Mflo
                    | Op::Mtlo
                    | Op::Mult
                    | Op::Multu
                    | Op::Div
                    | Op::Divu
                    | Op::Madd
                    | Op::Maddu
                    | Op::Msub
                    | Op::Msubu
            );
            uses_mem |= matches!(
                d.op,
                Op::Lb | Op::Lh | Op::Lw | Op::Lbu | Op::Lhu | Op::Sb | Op::Sh | Op::Sw
            );
            stores |= matches!(d.op, Op::Sb | Op::Sh | Op::Sw);
        }
        // A region of several blocks, or a block that loops on itself,
        // that uses few registers keeps them (and the base pointers) in
        // host registers throughout: loaded at entry, before any block's
        // head. Otherwise each block loads each register and base pointer
        // where it first needs it (its body is one straight path with
        // exits branching off it, so a first use on it comes before, and
        // dominates, every later one): values kept across the heads of a
        // bigger region only spill. Every register write goes through to
        // the register file at once, so a reload always reads the value.
        let looped = match region {
            [plan] => {
                let start = plan.insns.first().map_or(0, |&(pc, _)| pc);
                plan.insns
                    .iter()
                    .any(|&(pc, d)| const_target(pc, d) == Some(start))
            }
            _ => true,
        };
        let carry = looped && used.count_ones() + u32::from(uses_hilo) <= CARRY_MAX;
        let mut mem = MemBase::default();
        if carry {
            for (r, &var) in vars.iter().enumerate().take(33).skip(1) {
                if used & (1 << r) != 0 {
                    let v = b.ins().load(types::I32, flags(), gpr, (r * 4) as i32);
                    b.def_var(var, v);
                }
            }
            if uses_hilo {
                let hp = b.ins().load(ptr, flags(), ctx, offsets::HI);
                let lp = b.ins().load(ptr, flags(), ctx, offsets::LO);
                let h = b.ins().load(types::I32, flags(), hp, 0);
                let l = b.ins().load(types::I32, flags(), lp, 0);
                b.def_var(vars[HI], h);
                b.def_var(vars[LO], l);
                mem.hi = Some(hp);
                mem.lo = Some(lp);
                used |= (1 << HI) | (1 << LO);
            }
            if uses_mem {
                // Kernel-mode code reaches the translation cache on its
                // slow way only, which loads what it needs there.
                let cached = at.kseg0.is_none();
                mem.mem = Some(b.ins().load(ptr, flags(), ctx, offsets::MEM));
                if cached {
                    mem.read = Some(b.ins().load(ptr, flags(), ctx, offsets::XLAT_READ));
                    mem.write = Some(b.ins().load(ptr, flags(), ctx, offsets::XLAT_WRITE));
                    mem.asid = Some(b.ins().load(types::I32, flags(), ctx, offsets::ASID));
                } else if stores {
                    mem.slot_of = Some(b.ins().load(ptr, flags(), ctx, offsets::SLOT_OF));
                }
            }
        }
        // Whether the page after the block's still has the translation it
        // had when planned (non-zero if not): nothing the region's code
        // does can change that, so it is checked once, here.
        let crosses = region
            .iter()
            .flat_map(|p| &p.insns)
            .any(|&(a, _)| a & !0xfff != at.vpage);
        let page2_fail = if !crosses {
            None
        } else if let Some((vpage2, base2)) = at.page2 {
            let read = b.ins().load(ptr, flags(), ctx, offsets::XLAT_READ);
            let asid = b.ins().load(types::I32, flags(), ctx, offsets::ASID);
            let off = (((vpage2 >> 12) & 0xff) * 16) as i32;
            let tag = b.ins().load(types::I32, flags(), read, off);
            let mask = b.ins().load(types::I32, flags(), read, off + 4);
            let base = b.ins().load(types::I32, flags(), read, off + 8);
            let key = b.ins().bor_imm_s(asid, c(vpage2));
            let diff = b.ins().bxor(tag, key);
            let miss = b.ins().band(diff, mask);
            let moved = b.ins().bxor_imm_s(base, c(base2));
            Some(b.ins().bor(miss, moved))
        } else {
            // `plan` was given no second page: unreachable, but leaving
            // is always right.
            Some(b.ins().iconst(types::I32, 1))
        };
        let left = b.declare_var(types::I64);
        b.def_var(left, left0);
        let chained = b.declare_var(types::I64);
        b.def_var(chained, chained0);
        // Each block's body starts in its own IR block, the target of the
        // jumps to it from the region (sealed once everything is emitted).
        let heads: Vec<(u32, ir::Block, u32)> = region
            .iter()
            .map(|p| {
                let start = p.insns.first().map_or(0, |&(pc, _)| pc);
                (start, b.create_block(), p.insns.len() as u32)
            })
            .collect();
        Self {
            b,
            ptr,
            ctx,
            vars,
            exits: Vec::new(),
            ret,
            at,
            sig: None,
            stub_sig: None,
            lookup_sig: None,
            heads,
            left,
            chained,
            gpr,
            mem,
            loaded: if carry { used } else { 0 },
            carry,
            page2_fail,
            crossed: false,
        }
    }

    /// The head and length of the region's block starting at `pc`.
    fn head_of(&self, pc: u32) -> Option<(ir::Block, u32)> {
        self.heads
            .iter()
            .find(|&&(start, _, _)| start == pc)
            .map(|&(_, head, len)| (head, len))
    }

    /// The value of context field `off` of type `ty`, cached in `slot`
    /// (loaded here, where first needed: see [`Emitter::new`]).
    fn base(&mut self, which: fn(&mut MemBase) -> &mut Option<Value>, ty: Type, off: i32) -> Value {
        let ctx = self.ctx;
        if let Some(v) = *which(&mut self.mem) {
            return v;
        }
        let v = self.b.ins().load(ty, flags(), ctx, off);
        *which(&mut self.mem) = Some(v);
        v
    }

    // ----- registers -----

    fn get(&mut self, r: u8) -> Value {
        let r = usize::from(r & 63);
        if r == 0 || r > 32 {
            self.b.ins().iconst(types::I32, 0)
        } else {
            if self.loaded & (1 << r) == 0 {
                let v = self
                    .b
                    .ins()
                    .load(types::I32, flags(), self.gpr, (r * 4) as i32);
                self.b.def_var(self.vars[r], v);
                self.loaded |= 1 << r;
            }
            self.b.use_var(self.vars[r])
        }
    }

    /// Writes register `r`: the variable, and through to the register
    /// file at once, so that an exit has nothing to write back.
    fn set(&mut self, r: u8, v: Value) {
        let r = usize::from(r & 63);
        if r != 0 && r <= 32 {
            self.b.def_var(self.vars[r], v);
            self.loaded |= 1 << r;
            self.b.ins().store(flags(), v, self.gpr, (r * 4) as i32);
        }
    }

    /// HI or LO.
    fn get_var(&mut self, i: usize) -> Value {
        if self.loaded & (1 << i) == 0 {
            let p = self.hilo_ptr(i);
            let v = self.b.ins().load(types::I32, flags(), p, 0);
            self.b.def_var(self.vars[i], v);
            self.loaded |= 1 << i;
        }
        self.b.use_var(self.vars[i])
    }

    /// The address of HI or LO.
    fn hilo_ptr(&mut self, i: usize) -> Value {
        if i == HI {
            self.base(|m| &mut m.hi, self.ptr, offsets::HI)
        } else {
            self.base(|m| &mut m.lo, self.ptr, offsets::LO)
        }
    }

    /// Writes HI or LO (variable and memory, as [`Emitter::set`]).
    fn set_var(&mut self, i: usize, v: Value) {
        self.b.def_var(self.vars[i], v);
        self.loaded |= 1 << i;
        let p = self.hilo_ptr(i);
        self.b.ins().store(flags(), v, p, 0);
    }

    fn iconst(&mut self, v: u32) -> Value {
        self.b.ins().iconst(types::I32, i64::from(v as i32))
    }

    // ----- leaving -----

    /// Returns exit number `k` (an index into `Emitter::exits`) with
    /// `info`; a PC known only at run time is stored into the context.
    fn exit(&mut self, pc: Next, next_pc: Next, delay: bool, executed: u32, bailed: bool) {
        let ctx = self.ctx;
        let mut info = Exit {
            pc: None,
            next_pc: None,
            delay,
            executed,
            bailed,
            cell: false,
        };
        // A chained exit to a PC known only at run time goes through the
        // chaining stub, which stores it (and the one after) if it leaves.
        let chains = !bailed && !delay;
        match pc {
            Next::Const(c) => info.pc = Some(c),
            Next::Dyn(v) => {
                if !chains {
                    self.b.ins().store(flags(), v, ctx, offsets::PC);
                }
            }
        }
        match next_pc {
            Next::Const(c) => info.next_pc = Some(c),
            Next::Dyn(v) => {
                if !chains {
                    self.b.ins().store(flags(), v, ctx, offsets::NEXT_PC);
                }
            }
        }
        let n = self.exits.len() as u32;
        let k = self.at.first_exit + n;
        if !bailed && !delay {
            info.cell = n < MAX_EXITS
                && matches!(pc, Next::Const(t)
                    if t & !0xfff == self.at.vpage && self.head_of(t).is_none());
            let cell = info.cell;
            self.exits.push(info);
            let kv = self.iconst(k);
            self.chain(pc, executed, kv, n, cell);
            return;
        }
        self.exits.push(info);
        let kv = self.iconst(k);
        let ret = self.ret;
        self.b.ins().jump(ret, &[kv.into()]);
    }

    /// Goes on to the block translated from `target` if there is a valid
    /// one and it fits in the budget (a tail call: the run loop never sees
    /// the exit), else leaves through exit number `k`, the region's `n`th
    /// (with `same_page`, a constant target in the block's page whose
    /// chain cell the run loop fills).
    fn chain(&mut self, target: Next, executed: u32, k: Value, n: u32, same_page: bool) {
        let ret = self.ret;
        let ctx = self.ctx;
        let before = self.b.use_var(self.left);
        let left = self.b.ins().iadd_imm_s(before, -i64::from(executed));
        if let Next::Const(t) = target
            && let Some((head, len)) = self.head_of(t)
        {
            // A block of this region (this one included: a loop): go on
            // there if all of it fits (nothing in a block can make another
            // of its page stale or change the mode).
            let fits =
                self.b
                    .ins()
                    .icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, left, i64::from(len));
            let again = self.b.create_block();
            self.b.ins().brif(fits, again, &[], ret, &[k.into()]);
            self.b.switch_to_block(again);
            self.b.seal_block(again);
            self.b.def_var(self.left, left);
            let c = self.b.use_var(self.chained);
            let c = self.b.ins().iadd_imm_s(c, 1);
            self.b.def_var(self.chained, c);
            self.b.ins().jump(head, &[]);
            return;
        }
        let chained = self.b.use_var(self.chained);
        let cell =
            (n < MAX_EXITS).then(|| self.at.cells + n as usize * core::mem::size_of::<ChainCell>());
        if let (true, Some(cell)) = (same_page, cell) {
            // In this page: through the exit's own cell.
            let cell = self.b.ins().iconst(self.ptr, cell as i64);
            let code = self.b.ins().load(self.ptr, flags(), cell, CELL_CODE);
            let len = self.b.ins().load(types::I64, flags(), cell, CELL_LEN);
            let fits = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, len, left);
            let has = self.b.ins().icmp_imm_s(IntCC::NotEqual, code, 0);
            let go = self.b.ins().band(fits, has);
            let call = self.b.create_block();
            self.b.ins().brif(go, call, &[], ret, &[k.into()]);
            self.b.switch_to_block(call);
            self.b.seal_block(call);
            self.tail_call(code, left, chained);
            return;
        }
        // Anything else: the shared chaining stub decides (see
        // `emit_stub`), unless the exit's cell holds its last answer for
        // this target, still good (the same epoch).
        let t = match target {
            Next::Const(t) => self.iconst(t),
            Next::Dyn(v) => v,
        };
        let cell = match cell {
            Some(cell) => {
                let cell = self.b.ins().iconst(self.ptr, cell as i64);
                let vpc = self.b.ins().load(types::I32, flags(), cell, CELL_VPC);
                let epoch = self.b.ins().load(types::I64, flags(), cell, CELL_EPOCH);
                let now = self.b.ins().load(types::I64, flags(), ctx, offsets::EPOCH);
                let len = self.b.ins().load(types::I64, flags(), cell, CELL_LEN);
                let same = self.b.ins().icmp(IntCC::Equal, vpc, t);
                let current = self.b.ins().icmp(IntCC::Equal, epoch, now);
                let fits = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, len, left);
                let go = self.b.ins().band(same, current);
                let go = self.b.ins().band(go, fits);
                let call = self.b.create_block();
                let stub = self.b.create_block();
                self.b.ins().brif(go, call, &[], stub, &[]);
                self.b.switch_to_block(call);
                self.b.seal_block(call);
                let code = self.b.ins().load(self.ptr, flags(), cell, CELL_CODE);
                self.tail_call(code, left, chained);
                self.b.switch_to_block(stub);
                self.b.seal_block(stub);
                cell
            }
            None => self.b.ins().iconst(self.ptr, 0),
        };
        // The exit's number and its target in one argument (a tail call
        // passes six in registers).
        let k64 = self.b.ins().uextend(types::I64, k);
        let k64 = self.b.ins().ishl_imm_s(k64, 32);
        let t64 = self.b.ins().uextend(types::I64, t);
        let kt = self.b.ins().bor(k64, t64);
        let stub = self.b.ins().load(self.ptr, flags(), ctx, offsets::STUB);
        let sig = self
            .stub_sig
            .expect("the stub's signature is imported before emitting");
        self.b
            .ins()
            .return_call_indirect(sig, stub, &[ctx, kt, before, left, chained, cell]);
    }

    /// Goes on to the compiled block at `code` with `left` of the budget,
    /// counting one more chained exit than `chained`: a tail call.
    fn tail_call(&mut self, code: Value, left: Value, chained: Value) {
        let n = self.b.ins().iadd_imm_s(chained, 1);
        let sig = self
            .sig
            .expect("the blocks' signature is imported before emitting");
        let ctx = self.ctx;
        self.b
            .ins()
            .return_call_indirect(sig, code, &[ctx, left, n]);
    }

    /// Leaves with `bail`'s state if `fail` is non-zero: a branch to the
    /// shared return block with the exit's number.
    fn guard(&mut self, fail: Value, bail: Bail) {
        let k = self.at.first_exit + self.exits.len() as u32;
        self.exits.push(Exit {
            pc: Some(bail.pc),
            next_pc: match bail.next_pc {
                BailNext::Const(c) => Some(c),
                BailNext::Dyn(_) | BailNext::Cond(..) => None,
            },
            delay: bail.delay,
            executed: bail.executed,
            bailed: true,
            cell: false,
        });
        let k = self.iconst(k);
        let ok = self.b.create_block();
        let ret = self.ret;
        if let BailNext::Const(_) = bail.next_pc {
            self.b.ins().brif(fail, ret, &[k.into()], ok, &[]);
        } else {
            // The next PC is stored on the way out only.
            let out = self.b.create_block();
            self.b.set_cold_block(out);
            self.b.ins().brif(fail, out, &[], ok, &[]);
            self.b.switch_to_block(out);
            self.b.seal_block(out);
            let next = match bail.next_pc {
                BailNext::Dyn(v) => v,
                BailNext::Cond(c, t, f) => {
                    let t = self.iconst(t);
                    let f = self.iconst(f);
                    self.b.ins().select(c, t, f)
                }
                BailNext::Const(c) => self.iconst(c),
            };
            let ctx = self.ctx;
            self.b.ins().store(flags(), next, ctx, offsets::NEXT_PC);
            self.b.ins().jump(ret, &[k.into()]);
        }
        self.b.switch_to_block(ok);
        self.b.seal_block(ok);
    }

    /// Before the instruction at `pc`: if it is the block's first from
    /// the page after its own, leaves with `bail` unless that page has
    /// the translation the block was made for.
    fn cross(&mut self, pc: u32, bail: Bail) {
        if pc & !0xfff == self.at.vpage || self.crossed {
            return;
        }
        self.crossed = true;
        let fail = match self.page2_fail {
            Some(v) => v,
            None => self.iconst(1),
        };
        self.guard(fail, bail);
    }

    // ----- the block -----

    fn body(&mut self, plan: &Plan) {
        self.crossed = false;
        if !self.carry {
            // This block's first uses load (see `Emitter::new`).
            self.loaded = 0;
            self.mem = MemBase::default();
        }
        let n = plan.insns.len();
        let straight = if plan.ends_in_branch { n - 2 } else { n };
        let mut i = 0;
        while i < straight {
            let (pc, d) = plan.insns[i];
            if kind(d.op) == Kind::Branch {
                // A side exit; its delay slot follows.
                let (spc, sd) = plan.insns[i + 1];
                self.side_exit(pc, d, spc, sd, i as u32);
                i += 2;
                continue;
            }
            let bail = Bail {
                pc,
                next_pc: BailNext::Const(pc.wrapping_add(4)),
                delay: false,
                executed: i as u32,
            };
            self.cross(pc, bail);
            self.simple(d, bail);
            i += 1;
        }
        if !plan.ends_in_branch {
            let end = plan.insns.last().map_or(0, |&(pc, _)| pc.wrapping_add(4));
            self.exit(
                Next::Const(end),
                Next::Const(end.wrapping_add(4)),
                false,
                n as u32,
                false,
            );
            return;
        }
        let (bpc, bd) = plan.insns[n - 2];
        let (spc, sd) = plan.insns[n - 1];
        self.branch(bpc, bd, spc, sd, (n - 2) as u32);
    }

    /// The page-crossing check before the branch at `bpc` (instruction
    /// number `index`): a bail there resumes at the branch itself.
    fn cross_at_branch(&mut self, bpc: u32, index: u32) {
        self.cross(
            bpc,
            Bail {
                pc: bpc,
                next_pc: BailNext::Const(bpc.wrapping_add(4)),
                delay: false,
                executed: index,
            },
        );
    }

    /// A conditional branch (not likely) in the middle of a block: the
    /// delay slot, then leave for the target if taken, else go on.
    fn side_exit(&mut self, bpc: u32, d: Decoded, spc: u32, sd: Decoded, index: u32) {
        use Op::*;
        self.cross_at_branch(bpc, index);
        let rs = self.get(d.rs);
        let rt = self.get(d.rt);
        let cond = match d.op {
            Beq => self.b.ins().icmp(IntCC::Equal, rs, rt),
            Bne => self.b.ins().icmp(IntCC::NotEqual, rs, rt),
            Blez => self.b.ins().icmp_imm_s(IntCC::SignedLessThanOrEqual, rs, 0),
            Bgtz => self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, rs, 0),
            Bltz | Bltzal => self.b.ins().icmp_imm_s(IntCC::SignedLessThan, rs, 0),
            _ => self
                .b
                .ins()
                .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, rs, 0),
        };
        if matches!(d.op, Bltzal | Bgezal) {
            let v = self.iconst(bpc.wrapping_add(8));
            self.set(31, v);
        }
        let target = spc.wrapping_add(d.imm);
        let bail = Bail {
            pc: spc,
            next_pc: BailNext::Cond(cond, target, spc.wrapping_add(4)),
            delay: true,
            executed: index + 1,
        };
        self.cross(spc, bail);
        self.simple(sd, bail);
        let (taken, go_on) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(cond, taken, &[], go_on, &[]);
        self.b.switch_to_block(taken);
        self.b.seal_block(taken);
        self.exit(
            Next::Const(target),
            Next::Const(target.wrapping_add(4)),
            false,
            index + 2,
            false,
        );
        self.b.switch_to_block(go_on);
        self.b.seal_block(go_on);
    }

    /// A branch at `bpc` (instruction number `index`) and its delay slot.
    fn branch(&mut self, bpc: u32, d: Decoded, spc: u32, sd: Decoded, index: u32) {
        use Op::*;
        self.cross_at_branch(bpc, index);
        let rs = self.get(d.rs);
        let rt = self.get(d.rt);
        let zero = self.iconst(0);
        // The condition (None: always), read before any link is written.
        let always = always_taken(d);
        let cond = match d.op {
            _ if always => None,
            Beq | Beql => Some(self.b.ins().icmp(IntCC::Equal, rs, rt)),
            Bne | Bnel => Some(self.b.ins().icmp(IntCC::NotEqual, rs, rt)),
            Blez | Blezl => Some(self.b.ins().icmp(IntCC::SignedLessThanOrEqual, rs, zero)),
            Bgtz | Bgtzl => Some(self.b.ins().icmp(IntCC::SignedGreaterThan, rs, zero)),
            Bltz | Bltzl | Bltzal | Bltzall => {
                Some(self.b.ins().icmp(IntCC::SignedLessThan, rs, zero))
            }
            Bgez | Bgezl | Bgezal | Bgezall => {
                Some(self.b.ins().icmp(IntCC::SignedGreaterThanOrEqual, rs, zero))
            }
            _ => None,
        };
        let target = match d.op {
            J | Jal => Next::Const((spc & 0xf000_0000) | d.imm),
            Jr | Jalr => Next::Dyn(rs),
            _ => Next::Const(spc.wrapping_add(d.imm)),
        };
        let link = bpc.wrapping_add(8);
        match d.op {
            Bltzal | Bgezal | Bltzall | Bgezall | Jal => {
                let v = self.iconst(link);
                self.set(31, v);
            }
            Jalr => {
                let v = self.iconst(link);
                self.set(d.rd, v);
            }
            _ => {}
        }
        // Always taken, a branch-likely runs its slot like any other.
        let likely = !always
            && matches!(
                d.op,
                Beql | Bnel | Blezl | Bgtzl | Bltzl | Bgezl | Bltzall | Bgezall
            );
        if likely {
            let cond = cond.expect("branch-likely is conditional");
            let taken = self.b.create_block();
            let not_taken = self.b.create_block();
            self.b.ins().brif(cond, taken, &[], not_taken, &[]);
            self.b.switch_to_block(not_taken);
            self.b.seal_block(not_taken);
            // The delay slot is nullified.
            self.exit(
                Next::Const(spc.wrapping_add(4)),
                Next::Const(spc.wrapping_add(8)),
                false,
                index + 1,
                false,
            );
            self.b.switch_to_block(taken);
            self.b.seal_block(taken);
            self.slot_and_leave(spc, sd, target, None, index);
        } else {
            match (cond, target) {
                (None, t) => self.slot_and_leave(spc, sd, t, None, index),
                (Some(c), Next::Const(t)) => {
                    // After the slot, each way leaves with a constant PC.
                    self.slot_and_leave(spc, sd, Next::Const(t), Some((c, t)), index);
                }
                (Some(_), Next::Dyn(_)) => {
                    unreachable!("conditional branches have constant targets")
                }
            }
        }
    }

    /// The delay slot, then leave for `next`: with `cond` given as
    /// `(taken, target)`, for `target` if `taken`, else for the
    /// instruction after the slot.
    fn slot_and_leave(
        &mut self,
        spc: u32,
        sd: Decoded,
        next: Next,
        cond: Option<(Value, u32)>,
        index: u32,
    ) {
        let next_pc = match (cond, next) {
            (Some((taken, target)), _) => BailNext::Cond(taken, target, spc.wrapping_add(4)),
            (None, Next::Const(c)) => BailNext::Const(c),
            (None, Next::Dyn(v)) => BailNext::Dyn(v),
        };
        let bail = Bail {
            pc: spc,
            next_pc,
            delay: true,
            executed: index + 1,
        };
        self.cross(spc, bail);
        self.simple(sd, bail);
        if let Some((taken, target)) = cond {
            let (t, f) = (self.b.create_block(), self.b.create_block());
            self.b.ins().brif(taken, t, &[], f, &[]);
            for (block, pc) in [(t, target), (f, spc.wrapping_add(4))] {
                self.b.switch_to_block(block);
                self.b.seal_block(block);
                self.exit(
                    Next::Const(pc),
                    Next::Const(pc.wrapping_add(4)),
                    false,
                    index + 2,
                    false,
                );
            }
            return;
        }
        let after = match next {
            Next::Const(c) => Next::Const(c.wrapping_add(4)),
            Next::Dyn(v) => Next::Dyn(self.b.ins().iadd_imm_s(v, 4)),
        };
        self.exit(next, after, false, index + 2, false);
    }

    // ----- straight-line instructions -----

    fn simple(&mut self, d: Decoded, bail: Bail) {
        use Op::*;
        let imm = d.imm;
        match d.op {
            Nop => {}
            Sll => self.alu_imm(d.rd, d.rt, |b, x| b.ins().ishl_imm_s(x, c(imm))),
            Srl => self.alu_imm(d.rd, d.rt, |b, x| b.ins().ushr_imm_s(x, c(imm))),
            Sra => self.alu_imm(d.rd, d.rt, |b, x| b.ins().sshr_imm_s(x, c(imm))),
            Rotr => self.alu_imm(d.rd, d.rt, |b, x| b.ins().rotr_imm_s(x, c(imm))),
            Sllv => self.alu(d.rd, d.rt, d.rs, |b, x, s| {
                let s = b.ins().band_imm_s(s, 31);
                b.ins().ishl(x, s)
            }),
            Srlv => self.alu(d.rd, d.rt, d.rs, |b, x, s| {
                let s = b.ins().band_imm_s(s, 31);
                b.ins().ushr(x, s)
            }),
            Srav => self.alu(d.rd, d.rt, d.rs, |b, x, s| {
                let s = b.ins().band_imm_s(s, 31);
                b.ins().sshr(x, s)
            }),
            Rotrv => self.alu(d.rd, d.rt, d.rs, |b, x, s| {
                let s = b.ins().band_imm_s(s, 31);
                b.ins().rotr(x, s)
            }),
            Movz | Movn => {
                let t = self.get(d.rt);
                let s = self.get(d.rs);
                let old = self.get(d.rd);
                let v = if d.op == Movz {
                    self.b.ins().select(t, old, s)
                } else {
                    self.b.ins().select(t, s, old)
                };
                self.set(d.rd, v);
            }
            Mfhi => {
                let v = self.get_var(HI);
                self.set(d.rd, v);
            }
            Mflo => {
                let v = self.get_var(LO);
                self.set(d.rd, v);
            }
            Mthi => {
                let v = self.get(d.rs);
                self.set_var(HI, v);
            }
            Mtlo => {
                let v = self.get(d.rs);
                self.set_var(LO, v);
            }
            Mult | Multu | Madd | Maddu | Msub | Msubu => self.multiply(d),
            Tge | Tgeu | Tlt | Tltu | Teq | Tne | Tgei | Tgeiu | Tlti | Tltiu | Teqi | Tnei => {
                // A trap taken is the interpreter's to raise: leave before
                // it when its condition holds; otherwise it does nothing.
                let a = self.get(d.rs);
                let bv = if matches!(d.op, Tge | Tgeu | Tlt | Tltu | Teq | Tne) {
                    self.get(d.rt)
                } else {
                    self.iconst(imm)
                };
                let cc = match d.op {
                    Tge | Tgei => IntCC::SignedGreaterThanOrEqual,
                    Tgeu | Tgeiu => IntCC::UnsignedGreaterThanOrEqual,
                    Tlt | Tlti => IntCC::SignedLessThan,
                    Tltu | Tltiu => IntCC::UnsignedLessThan,
                    Teq | Teqi => IntCC::Equal,
                    _ => IntCC::NotEqual,
                };
                let taken = self.b.ins().icmp(cc, a, bv);
                self.guard(taken, bail);
            }
            Div => self.divide(d, true),
            Divu => self.divide(d, false),
            Add | Sub | Addi => {
                let a = self.get(d.rs);
                let (bv, dst) = if d.op == Addi {
                    (self.iconst(imm), d.rt)
                } else {
                    (self.get(d.rt), d.rd)
                };
                let r = if d.op == Sub {
                    self.b.ins().isub(a, bv)
                } else {
                    self.b.ins().iadd(a, bv)
                };
                // Signed overflow: the interpreter raises Ov.
                let ovf = if d.op == Sub {
                    // (a ^ b) & (a ^ r) < 0
                    let x = self.b.ins().bxor(a, bv);
                    let y = self.b.ins().bxor(a, r);
                    self.b.ins().band(x, y)
                } else {
                    // (a ^ r) & (b ^ r) < 0
                    let x = self.b.ins().bxor(a, r);
                    let y = self.b.ins().bxor(bv, r);
                    self.b.ins().band(x, y)
                };
                let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, ovf, 0);
                self.guard(neg, bail);
                self.set(dst, r);
            }
            // Moves (`move` is `or`/`addu` with `$zero`; `addiu r, s, 0`):
            // the value itself, no IR instruction to compile away.
            Addu | Or | Xor if d.rt == 0 => self.copy(d.rd, d.rs),
            Addu | Or | Xor if d.rs == 0 => self.copy(d.rd, d.rt),
            Subu if d.rt == 0 => self.copy(d.rd, d.rs),
            Addiu | Ori | Xori if imm == 0 => self.copy(d.rt, d.rs),
            Addu => self.alu(d.rd, d.rs, d.rt, |b, x, y| b.ins().iadd(x, y)),
            Subu => self.alu(d.rd, d.rs, d.rt, |b, x, y| b.ins().isub(x, y)),
            And => self.alu(d.rd, d.rs, d.rt, |b, x, y| b.ins().band(x, y)),
            Or => self.alu(d.rd, d.rs, d.rt, |b, x, y| b.ins().bor(x, y)),
            Xor => self.alu(d.rd, d.rs, d.rt, |b, x, y| b.ins().bxor(x, y)),
            Nor => self.alu(d.rd, d.rs, d.rt, |b, x, y| {
                let o = b.ins().bor(x, y);
                b.ins().bnot(o)
            }),
            Slt => self.alu(d.rd, d.rs, d.rt, |b, x, y| {
                let c = b.ins().icmp(IntCC::SignedLessThan, x, y);
                b.ins().uextend(types::I32, c)
            }),
            Sltu => self.alu(d.rd, d.rs, d.rt, |b, x, y| {
                let c = b.ins().icmp(IntCC::UnsignedLessThan, x, y);
                b.ins().uextend(types::I32, c)
            }),
            Mul => self.alu(d.rd, d.rs, d.rt, |b, x, y| b.ins().imul(x, y)),
            Addiu => self.alu_imm(d.rt, d.rs, |b, x| b.ins().iadd_imm_s(x, c(imm))),
            Slti => self.alu_imm(d.rt, d.rs, |b, x| {
                let c = b.ins().icmp_imm_s(IntCC::SignedLessThan, x, c(imm));
                b.ins().uextend(types::I32, c)
            }),
            Sltiu => self.alu_imm(d.rt, d.rs, |b, x| {
                let c = b.ins().icmp_imm_s(IntCC::UnsignedLessThan, x, c(imm));
                b.ins().uextend(types::I32, c)
            }),
            Andi => self.alu_imm(d.rt, d.rs, |b, x| b.ins().band_imm_s(x, c(imm))),
            Ori => self.alu_imm(d.rt, d.rs, |b, x| b.ins().bor_imm_s(x, c(imm))),
            Xori => self.alu_imm(d.rt, d.rs, |b, x| b.ins().bxor_imm_s(x, c(imm))),
            Lui => {
                let v = self.iconst(imm);
                self.set(d.rt, v);
            }
            Clz => self.alu_imm(d.rd, d.rs, |b, x| b.ins().clz(x)),
            Clo => self.alu_imm(d.rd, d.rs, |b, x| {
                let n = b.ins().bnot(x);
                b.ins().clz(n)
            }),
            Ext => {
                let (pos, size) = (imm & 31, imm >> 8);
                let mask = ((1u64 << size) - 1) as u32;
                self.alu_imm(d.rt, d.rs, |b, x| {
                    let s = b.ins().ushr_imm_s(x, c(pos));
                    b.ins().band_imm_s(s, c(mask))
                });
            }
            Ins => {
                let (pos, size) = (imm & 31, imm >> 8);
                if size == 0 || pos + size > 32 {
                    return;
                }
                let mask = (((1u64 << size) - 1) << pos) as u32;
                self.alu(d.rt, d.rt, d.rs, |b, t, s| {
                    let keep = b.ins().band_imm_s(t, c(!mask));
                    let sh = b.ins().ishl_imm_s(s, c(pos));
                    let ins = b.ins().band_imm_s(sh, c(mask));
                    b.ins().bor(keep, ins)
                });
            }
            Wsbh => self.alu_imm(d.rd, d.rt, |b, x| {
                let l = b.ins().band_imm_s(x, 0x00ff_00ff);
                let l = b.ins().ishl_imm_s(l, 8);
                let h = b.ins().ushr_imm_s(x, 8);
                let h = b.ins().band_imm_s(h, 0x00ff_00ff);
                b.ins().bor(l, h)
            }),
            Seb => self.alu_imm(d.rd, d.rt, |b, x| {
                let n = b.ins().ireduce(types::I8, x);
                b.ins().sextend(types::I32, n)
            }),
            Seh => self.alu_imm(d.rd, d.rt, |b, x| {
                let n = b.ins().ireduce(types::I16, x);
                b.ins().sextend(types::I32, n)
            }),
            Lb | Lbu | Lh | Lhu | Lw => {
                let size = match d.op {
                    Lb | Lbu => 1,
                    Lh | Lhu => 2,
                    _ => 4,
                };
                let base = self.get(d.rs);
                let va = self.add_imm(base, imm);
                let addr = self.access(va, size, false, bail);
                let f = guest_flags();
                let v = match d.op {
                    Lb => self.b.ins().sload8(types::I32, f, addr, 0),
                    Lbu => self.b.ins().uload8(types::I32, f, addr, 0),
                    Lh => self.b.ins().sload16(types::I32, f, addr, 0),
                    Lhu => self.b.ins().uload16(types::I32, f, addr, 0),
                    _ => self.b.ins().load(types::I32, f, addr, 0),
                };
                self.set(d.rt, v);
            }
            Sb | Sh | Sw => {
                let size = match d.op {
                    Sb => 1,
                    Sh => 2,
                    _ => 4,
                };
                let base = self.get(d.rs);
                let va = self.add_imm(base, imm);
                let v = self.get(d.rt);
                let addr = self.access(va, size, true, bail);
                let f = guest_flags();
                match size {
                    1 => {
                        self.b.ins().istore8(f, v, addr, 0);
                    }
                    2 => {
                        self.b.ins().istore16(f, v, addr, 0);
                    }
                    _ => {
                        self.b.ins().store(f, v, addr, 0);
                    }
                }
            }
            // `plan` admits only the operations above.
            _ => {
                let always = self.iconst(1);
                self.guard(always, bail);
            }
        }
    }

    /// `dst = src`.
    fn copy(&mut self, dst: u8, src: u8) {
        let v = self.get(src);
        self.set(dst, v);
    }

    /// `x + imm`, or `x` itself for 0.
    fn add_imm(&mut self, x: Value, imm: u32) -> Value {
        if imm == 0 {
            x
        } else {
            self.b.ins().iadd_imm_s(x, c(imm))
        }
    }

    fn alu(
        &mut self,
        dst: u8,
        a: u8,
        b: u8,
        f: impl FnOnce(&mut FunctionBuilder<'b>, Value, Value) -> Value,
    ) {
        let x = self.get(a);
        let y = self.get(b);
        let v = f(self.b, x, y);
        self.set(dst, v);
    }

    fn alu_imm(
        &mut self,
        dst: u8,
        a: u8,
        f: impl FnOnce(&mut FunctionBuilder<'b>, Value) -> Value,
    ) {
        let x = self.get(a);
        let v = f(self.b, x);
        self.set(dst, v);
    }

    fn multiply(&mut self, d: Decoded) {
        use Op::*;
        let a = self.get(d.rs);
        let b = self.get(d.rt);
        let signed = matches!(d.op, Mult | Madd | Msub);
        let (a, b) = if signed {
            (
                self.b.ins().sextend(types::I64, a),
                self.b.ins().sextend(types::I64, b),
            )
        } else {
            (
                self.b.ins().uextend(types::I64, a),
                self.b.ins().uextend(types::I64, b),
            )
        };
        let p = self.b.ins().imul(a, b);
        let v = match d.op {
            Mult | Multu => p,
            _ => {
                let hi = self.get_var(HI);
                let lo = self.get_var(LO);
                let hi = self.b.ins().uextend(types::I64, hi);
                let lo = self.b.ins().uextend(types::I64, lo);
                let hi = self.b.ins().ishl_imm_s(hi, 32);
                let acc = self.b.ins().bor(hi, lo);
                if matches!(d.op, Madd | Maddu) {
                    self.b.ins().iadd(acc, p)
                } else {
                    self.b.ins().isub(acc, p)
                }
            }
        };
        let lo = self.b.ins().ireduce(types::I32, v);
        let hi = self.b.ins().ushr_imm_s(v, 32);
        let hi = self.b.ins().ireduce(types::I32, hi);
        self.set_var(HI, hi);
        self.set_var(LO, lo);
    }

    /// DIV/DIVU. Division by zero leaves HI and LO unchanged; the signed
    /// overflow case (`i32::MIN / -1`) wraps, as in the interpreter.
    fn divide(&mut self, d: Decoded, signed: bool) {
        let a = self.get(d.rs);
        let b = self.get(d.rt);
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
        let one = self.iconst(1);
        let unsafe_divisor = if signed {
            let min = self.b.ins().icmp_imm_s(IntCC::Equal, a, c(0x8000_0000));
            let m1 = self.b.ins().icmp_imm_s(IntCC::Equal, b, -1);
            let ovf = self.b.ins().band(min, m1);
            self.b.ins().bor(zero, ovf)
        } else {
            zero
        };
        // With divisor 1 the overflow case gives a / 1 = MIN, remainder 0:
        // exactly the wrapping result.
        let safe = self.b.ins().select(unsafe_divisor, one, b);
        let (q, r) = if signed {
            (self.b.ins().sdiv(a, safe), self.b.ins().srem(a, safe))
        } else {
            (self.b.ins().udiv(a, safe), self.b.ins().urem(a, safe))
        };
        let old_hi = self.get_var(HI);
        let old_lo = self.get_var(LO);
        let lo = self.b.ins().select(zero, old_lo, q);
        let hi = self.b.ins().select(zero, old_hi, r);
        self.set_var(HI, hi);
        self.set_var(LO, lo);
    }

    /// The host address of a `size`-byte access at guest virtual `va`:
    /// straight from the address in kseg0 in kernel mode (see
    /// [`JitCtx::kseg0_limit`]), else through the translation cache;
    /// leaves with `bail` if the address is misaligned, the cache misses,
    /// or the page holds code (stores).
    fn access(&mut self, va: Value, size: u32, store: bool, bail: Bail) -> Value {
        let mem = self.base(|m| &mut m.mem, self.ptr, offsets::MEM);
        let Some(limit) = self.at.kseg0 else {
            let set = if store {
                self.base(|m| &mut m.write, self.ptr, offsets::XLAT_WRITE)
            } else {
                self.base(|m| &mut m.read, self.ptr, offsets::XLAT_READ)
            };
            let asid = self.base(|m| &mut m.asid, types::I32, offsets::ASID);
            return self.cached(va, size, store, bail, set, asid, mem);
        };
        // Used on the straight way, so loaded before the ways part (a
        // value first loaded on one way would not reach the other).
        let slot_of = if store {
            Some(self.base(|m| &mut m.slot_of, self.ptr, offsets::SLOT_OF))
        } else {
            None
        };
        let join = self.b.create_block();
        self.b.append_block_param(join, self.ptr);
        let direct = self.b.create_block();
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        // Kseg0 in kernel mode: `va - 0x8000_0000` is the buffer offset
        // if it is below the limit. One test for that and alignment:
        // rotated right by log2(size), a misaligned offset has a top bit
        // set (so it is at least 2^30, above any limit, at most 2^29),
        // and an aligned one is below `limit >> shift` exactly when it is
        // below the limit (a multiple of the page size).
        let off = self.b.ins().iadd_imm_s(va, c(0x8000_0000));
        let shift = size.trailing_zeros();
        let rotated = if shift > 0 {
            self.b.ins().rotr_imm_s(off, i64::from(shift))
        } else {
            off
        };
        let ok =
            self.b
                .ins()
                .icmp_imm_s(IntCC::UnsignedLessThan, rotated, i64::from(limit >> shift));
        self.b.ins().brif(ok, direct, &[], slow, &[]);
        self.b.switch_to_block(direct);
        self.b.seal_block(direct);
        let off = if self.ptr == types::I64 {
            self.b.ins().uextend(types::I64, off)
        } else {
            off
        };
        if let Some(slot_of) = slot_of {
            // A store to a page holding code takes the slow way, which
            // leaves (its write entry, if any, has `CODE_BIT`).
            let page = self.b.ins().ushr_imm_s(off, 12);
            let byte = self.b.ins().ishl_imm_s(page, 2);
            let at = self.b.ins().iadd(slot_of, byte);
            let slot = self.b.ins().load(types::I32, flags(), at, 0);
            let no_code = self.b.ins().icmp_imm_s(IntCC::Equal, slot, c(NO_SLOT));
            let plain = self.b.create_block();
            self.b.ins().brif(no_code, plain, &[], slow, &[]);
            self.b.switch_to_block(plain);
            self.b.seal_block(plain);
        }
        let addr = self.b.ins().iadd(mem, off);
        self.b.ins().jump(join, &[addr.into()]);
        self.b.switch_to_block(slow);
        self.b.seal_block(slow);
        // The slow way: the translation cache, looked up by a call to the
        // lookup thunk ([`emit_lookup`]), which clobbers no register:
        // kernel-mode code seldom goes there, and the call is a few IR
        // instructions where the lookup inline is some twenty (compiling
        // them cost more than the call ever did).
        let ctx = self.ctx;
        let sig = match self.lookup_sig {
            Some(s) => s,
            None => {
                let s = self.b.import_signature(lookup_signature(self.ptr));
                self.lookup_sig = Some(s);
                s
            }
        };
        let f = self.b.ins().iconst(self.ptr, self.at.lookup as i64);
        let what = self.iconst(size | if store { LOOKUP_STORE } else { 0 });
        self.b.ins().call_indirect(sig, f, &[ctx, va, what]);
        let off = self.b.ins().load(types::I64, flags(), ctx, offsets::LOOKUP);
        let fail = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, off, 0);
        self.guard(fail, bail);
        let off = if self.ptr == types::I64 {
            off
        } else {
            self.b.ins().ireduce(self.ptr, off)
        };
        let addr = self.b.ins().iadd(mem, off);
        self.b.ins().jump(join, &[addr.into()]);
        self.b.switch_to_block(join);
        self.b.seal_block(join);
        self.b.block_params(join)[0]
    }

    /// The host address of a `size`-byte access at guest virtual `va`
    /// through the translation cache (`set`, the current regime's read
    /// or write set; `asid`, the context's; `mem`, the memory buffer);
    /// leaves with `bail` if the address is misaligned, the cache misses,
    /// or the page holds code (stores).
    #[allow(clippy::too_many_arguments)]
    fn cached(
        &mut self,
        va: Value,
        size: u32,
        store: bool,
        bail: Bail,
        set: Value,
        asid: Value,
        mem: Value,
    ) -> Value {
        // One test for every reason to leave: a misaligned address (the
        // key keeps the address's low bits, which no tag has), a
        // translation-cache miss, (stores) a page holding code (its tag
        // has `CODE_BIT`, which the mask then keeps). (A hit is inside the
        // memory buffer: the cache holds whole pages inside it only.)
        // Each field of the entry is loaded where it is used, so that few
        // values are live at once.
        let byte = self.b.ins().ushr_imm_s(va, 8);
        let byte = self.b.ins().band_imm_s(byte, 0xff0);
        let byte = self.b.ins().uextend(self.ptr, byte);
        let entry = self.b.ins().iadd(set, byte);
        let vpage = self.b.ins().band_imm_s(va, c(!0xfff | (size - 1)));
        let key = self.b.ins().bor(vpage, asid);
        let tag = self.b.ins().load(types::I32, flags(), entry, 0);
        let diff = self.b.ins().bxor(tag, key);
        let mask = self.b.ins().load(types::I32, flags(), entry, 4);
        let mask = if store {
            self.b.ins().bor_imm_s(mask, c(CODE_BIT))
        } else {
            mask
        };
        let fail = self.b.ins().band(diff, mask);
        self.guard(fail, bail);
        let base = self.b.ins().load(types::I32, flags(), entry, 8);
        let in_page = self.b.ins().band_imm_s(va, 0xfff);
        let off = self.b.ins().iadd(base, in_page);
        let off = if self.ptr == types::I64 {
            self.b.ins().uextend(types::I64, off)
        } else {
            off
        };
        self.b.ins().iadd(mem, off)
    }
}

/// In the lookup thunk's `what` ([`emit_lookup`]): the access is a store.
const LOOKUP_STORE: u32 = 0x100;

/// The signature of the lookup thunk: `(ctx, va, what)` in the
/// `preserve_all` convention (a call to it clobbers no register, so the
/// calling block's registers stay where they are); it returns its answer
/// in [`JitCtx::lookup`].
pub fn lookup_signature(ptr: Type) -> ir::Signature {
    let mut sig = ir::Signature::new(cranelift_codegen::isa::CallConv::PreserveAll);
    sig.params.push(ir::AbiParam::new(ptr));
    sig.params.push(ir::AbiParam::new(types::I32));
    sig.params.push(ir::AbiParam::new(types::I32));
    sig
}

/// Emits the lookup thunk: the translation-cache lookup of
/// `Emitter::cached`, out of line for the slow way of kernel-mode
/// code's loads and stores. It stores into [`JitCtx::lookup`] the buffer
/// offset of the `what & 0xff`-byte access at `va` (a store if `what` has
/// `LOOKUP_STORE`), or -1 to leave (misaligned, a miss, or a store to a
/// page holding code).
pub fn emit_lookup(b: &mut FunctionBuilder<'_>, ptr: Type) {
    let entry_block = b.create_block();
    b.append_block_params_for_function_params(entry_block);
    b.switch_to_block(entry_block);
    b.seal_block(entry_block);
    let p = b.block_params(entry_block);
    let (ctx, va, what) = (p[0], p[1], p[2]);
    let store = b.ins().band_imm_s(what, c(LOOKUP_STORE));
    let read = b.ins().load(ptr, flags(), ctx, offsets::XLAT_READ);
    let write = b.ins().load(ptr, flags(), ctx, offsets::XLAT_WRITE);
    let set = b.ins().select(store, write, read);
    let byte = b.ins().ushr_imm_s(va, 8);
    let byte = b.ins().band_imm_s(byte, 0xff0);
    let byte = b.ins().uextend(ptr, byte);
    let entry = b.ins().iadd(set, byte);
    // The key keeps the address's low bits below the access's size.
    let size = b.ins().band_imm_s(what, 0xff);
    let low = b.ins().iadd_imm_s(size, -1);
    let keep = b.ins().bor_imm_s(low, c(!0xfff));
    let vpage = b.ins().band(va, keep);
    let asid = b.ins().load(types::I32, flags(), ctx, offsets::ASID);
    let key = b.ins().bor(vpage, asid);
    let tag = b.ins().load(types::I32, flags(), entry, 0);
    let diff = b.ins().bxor(tag, key);
    let mask = b.ins().load(types::I32, flags(), entry, 4);
    let code = b.ins().iconst(types::I32, c(CODE_BIT));
    let zero = b.ins().iconst(types::I32, 0);
    let code = b.ins().select(store, code, zero);
    let mask = b.ins().bor(mask, code);
    let fail = b.ins().band(diff, mask);
    let base = b.ins().load(types::I32, flags(), entry, 8);
    let in_page = b.ins().band_imm_s(va, 0xfff);
    let off = b.ins().iadd(base, in_page);
    let off = b.ins().uextend(types::I64, off);
    let none = b.ins().iconst(types::I64, -1);
    let out = b.ins().select(fail, none, off);
    b.ins().store(flags(), out, ctx, offsets::LOOKUP);
    b.ins().return_(&[]);
}

/// The signature of the chaining stub, in the `tail` convention:
/// `(ctx, exit << 32 | target, budget left before the exiting block, and
/// after it, chained exits so far, the exit's chain cell or null) -> exit`.
pub fn stub_signature(ptr: Type) -> ir::Signature {
    let mut sig = ir::Signature::new(cranelift_codegen::isa::CallConv::Tail);
    for t in [ptr, types::I64, types::I64, types::I64, types::I64, ptr] {
        sig.params.push(ir::AbiParam::new(t));
    }
    sig.returns.push(ir::AbiParam::new(types::I32));
    sig
}

/// Emits the chaining stub that exits to targets outside the block's page
/// and to targets known only at run time leave through: it goes on to the
/// block translated from the target if there is a valid one (the target's
/// buffer offset from the read translation cache, which holds the same
/// translations a fetch gets for plain memory; same physical address and
/// PC in the dispatch table; its page's generation current) and it fits
/// in the budget, with a tail call; else it stores the budget left and the
/// chained count into the context and returns the exit's number to the
/// run loop. `block_sig` is the blocks' signature; `fold`, the monitor's
/// dispatch index ([`super::INDEX_FOLD`]).
pub fn emit_stub(b: &mut FunctionBuilder<'_>, ptr: Type, block_sig: ir::Signature, fold: bool) {
    use super::{ENTRY_SIZE, INDEX_FOLD, TABLE_ENTRIES, entry_offsets as eo};
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let p = b.block_params(entry).to_vec();
    let (ctx, kt, before, left, chained, cell) = (p[0], p[1], p[2], p[3], p[4], p[5]);
    let t = b.ins().ireduce(types::I32, kt);
    let k = b.ins().ushr_imm_s(kt, 32);
    let k = b.ins().ireduce(types::I32, k);
    let block_sig = b.import_signature(block_sig);
    // Leaving: store the counts, return the exit.
    let leave = b.create_block();
    let read = b.ins().load(ptr, flags(), ctx, offsets::XLAT_READ);
    let asid = b.ins().load(types::I32, flags(), ctx, offsets::ASID);
    let page = b.ins().ushr_imm_s(t, 12);
    let idx = b.ins().band_imm_s(page, 0xff);
    let idx = b.ins().uextend(ptr, idx);
    let byte = b.ins().ishl_imm_s(idx, 4);
    let e = b.ins().iadd(read, byte);
    let tag = b.ins().load(types::I32, flags(), e, 0);
    let mask = b.ins().load(types::I32, flags(), e, 4);
    let base = b.ins().load(types::I32, flags(), e, 8);
    // A misaligned target keeps its low bits in the key: a miss.
    let vpage = b.ins().band_imm_s(t, c(!0xfff | 3));
    let key = b.ins().bor(vpage, asid);
    let diff = b.ins().bxor(tag, key);
    let fail = b.ins().band(diff, mask);
    let in_page = b.ins().band_imm_s(t, 0xfff);
    let phys = b.ins().iadd(base, in_page);
    // The dispatch-table entry.
    let found = b.create_block();
    b.ins().brif(fail, leave, &[], found, &[]);
    b.switch_to_block(found);
    let table = b.ins().load(ptr, flags(), ctx, offsets::TABLE);
    let i = b.ins().ushr_imm_s(phys, 2);
    let i = if fold {
        let hi = b.ins().ushr_imm_s(i, i64::from(INDEX_FOLD));
        b.ins().bxor(i, hi)
    } else {
        i
    };
    let i = b.ins().band_imm_s(i, (TABLE_ENTRIES - 1) as i64);
    let i = b.ins().uextend(ptr, i);
    let off = b.ins().imul_imm_s(i, ENTRY_SIZE as i64);
    let e = b.ins().iadd(table, off);
    let e_phys = b.ins().load(types::I32, flags(), e, eo::PHYS);
    let e_vpc = b.ins().load(types::I32, flags(), e, eo::VPC);
    let e_slot = b.ins().load(types::I32, flags(), e, eo::SLOT);
    let e_code = b.ins().load(ptr, flags(), e, eo::CODE);
    let gens_len = b.ins().load(types::I64, flags(), ctx, offsets::GENS_LEN);
    let d1 = b.ins().bxor(e_phys, phys);
    let d2 = b.ins().bxor(e_vpc, t);
    let d = b.ins().bor(d1, d2);
    let same = b.ins().icmp_imm_s(IntCC::Equal, d, 0);
    let has = b.ins().icmp_imm_s(IntCC::NotEqual, e_code, 0);
    let slot64 = b.ins().uextend(types::I64, e_slot);
    let inside = b.ins().icmp(IntCC::UnsignedLessThan, slot64, gens_len);
    let ok = b.ins().band(same, has);
    let ok = b.ins().band(ok, inside);
    let next = b.create_block();
    b.ins().brif(ok, next, &[], leave, &[]);
    b.switch_to_block(next);
    let gens = b.ins().load(ptr, flags(), ctx, offsets::GENS);
    let slot_p = b.ins().uextend(ptr, e_slot);
    let slot_off = b.ins().ishl_imm_s(slot_p, 2);
    let g_addr = b.ins().iadd(gens, slot_off);
    let generation = b.ins().load(types::I32, flags(), g_addr, 0);
    let e_gen = b.ins().load(types::I32, flags(), e, eo::GENERATION);
    let fresh = b.ins().icmp(IntCC::Equal, generation, e_gen);
    let e_len = b.ins().load(types::I32, flags(), e, eo::LEN);
    let e_len = b.ins().uextend(types::I64, e_len);
    let fits = b.ins().icmp(IntCC::UnsignedLessThanOrEqual, e_len, left);
    let go = b.ins().band(fresh, fits);
    let call = b.create_block();
    b.ins().brif(go, call, &[], leave, &[]);
    b.switch_to_block(call);
    // Remember the answer in the exit's cell, if it has one.
    let fill = b.create_block();
    let go_on = b.create_block();
    b.ins().brif(cell, fill, &[], go_on, &[]);
    b.switch_to_block(fill);
    let epoch = b.ins().load(types::I64, flags(), ctx, offsets::EPOCH);
    b.ins().store(flags(), e_code, cell, CELL_CODE);
    b.ins().store(flags(), e_len, cell, CELL_LEN);
    b.ins().store(flags(), t, cell, CELL_VPC);
    b.ins().store(flags(), epoch, cell, CELL_EPOCH);
    b.ins().jump(go_on, &[]);
    b.switch_to_block(go_on);
    let n = b.ins().iadd_imm_s(chained, 1);
    b.ins()
        .return_call_indirect(block_sig, e_code, &[ctx, left, n]);
    // The exit's own count is the run loop's to subtract. The target
    // and the PC after it, for an exit whose PC is known only at run time
    // (the others' are constants in their exits).
    b.switch_to_block(leave);
    b.ins().store(flags(), t, ctx, offsets::PC);
    let after = b.ins().iadd_imm_s(t, 4);
    b.ins().store(flags(), after, ctx, offsets::NEXT_PC);
    b.ins().store(flags(), before, ctx, offsets::LEFT);
    b.ins().store(flags(), chained, ctx, offsets::CHAINED);
    b.ins().return_(&[k]);
    b.seal_all_blocks();
}

/// The registers (bit n for GPR n, 1..=32) an instruction reads or writes.
fn reg_uses(d: Decoded) -> u64 {
    let mut m = 0u64;
    for r in [d.rs, d.rt, d.rd] {
        let r = r & 63;
        if r != 0 && r <= 32 {
            m |= 1 << r;
        }
    }
    if matches!(
        d.op,
        Op::Jal | Op::Bltzal | Op::Bgezal | Op::Bltzall | Op::Bgezall
    ) {
        m |= 1 << 31;
    }
    // `rd` of I-type instructions is 0 after decoding; SINK is slot 32.
    let _ = SINK;
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words of the page at 0x8000_1000: `code` from offset 0, `nop`
    /// elsewhere; no other page.
    fn page(code: &[u32]) -> impl FnMut(u32) -> Option<u32> + '_ {
        move |a| {
            (a & !0xfff == 0x8000_1000)
                .then(|| code.get(((a & 0xfff) / 4) as usize).copied().unwrap_or(0))
        }
    }

    const ADDIU_T0: u32 = 0x2508_0001; // addiu t0, t0, 1
    const NOP: u32 = 0;

    fn bne_t0_t1(from: u32, to: u32) -> u32 {
        // bne t0, t1, to (offset from the delay slot, in words)
        0x1509_0000 | ((to.wrapping_sub(from + 4) >> 2) & 0xffff)
    }

    fn starts(r: &[Plan]) -> Vec<u32> {
        r.iter().map(|p| p.insns[0].0).collect()
    }

    #[test]
    fn a_block_that_loops_on_itself_is_a_region_of_one() {
        let base = 0x8000_1000;
        let code = [ADDIU_T0, bne_t0_t1(base + 4, base), NOP, ADDIU_T0];
        let r = region(base, page(&code), |a| a == base);
        assert_eq!(starts(&r), [base]);
        assert!(r[0].successors().contains(&base));
    }

    #[test]
    fn a_region_holds_its_warm_successors() {
        let base = 0x8000_1000;
        // 0: addiu; 4: j 16; 8: nop | 12: (dead) | 16: addiu; 20: bne -> 0;
        // 24: nop | 28: the exit.
        let j16 = 0x0800_0000 | (((base + 16) >> 2) & 0x03ff_ffff);
        let code = [
            ADDIU_T0,
            j16,
            NOP,
            NOP,
            ADDIU_T0,
            bne_t0_t1(base + 20, base),
            NOP,
            ADDIU_T0,
        ];
        let r = region(base, page(&code), |a| a == base + 16);
        assert_eq!(starts(&r), [base, base + 16]);
        assert_eq!(r[0].insns.len(), 3);
        // A successor the interpreter has not run often is left out.
        let r = region(base, page(&code), |_| false);
        assert_eq!(starts(&r), [base]);
    }

    #[test]
    fn an_untranslatable_first_instruction_gives_no_region() {
        let syscall = 0x0000_000c;
        assert!(region(0x8000_1000, page(&[syscall]), |_| true).is_empty());
    }
}
