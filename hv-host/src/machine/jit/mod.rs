//! The second tier of the CPU engine: hot guest code translated to host
//! machine code with Cranelift.
//!
//! The interpreter (`machine/exec/`) is the reference engine and runs all
//! code first. Each place a block may start (a PC outside a delay slot
//! reached by a jump, an exception or `eret`, or just after a block left)
//! has a counter in a direct-mapped table keyed by the physical address
//! and virtual PC; when it reaches [`HOT_THRESHOLD`],
//! the block starting there is planned ([`translate::plan`]) and compiled
//! ([`translate::emit`]), and from then on the run loop enters the
//! compiled code instead of interpreting, as long as the whole block fits
//! before the loop's stop point (timer, board event, budget). A block that
//! would not fit is not entered: the interpreter runs its instructions
//! one by one, so interrupts and Count are exact.
//!
//! Blocks are cached by (physical address, virtual PC): the code depends
//! on the bytes (physical) and on the PC (branch targets, links), and the
//! loads and stores in it look up the translation cache of whatever regime
//! is current when they run. A block is valid for one *generation* of its
//! page ([`super::code::CodeCache`]): a store to a word any block was made
//! from bumps it, and the stale blocks are never entered again.
//!
//! A block leaves to the next one without returning to the run loop
//! (*chaining*): a loop on itself jumps back to its start inside the
//! block; an exit to a known target in the same page tail-calls the block
//! in its chain cell ([`translate::ChainCell`], filled in by the run loop
//! the first time it sees the exit taken); any other exit tail-calls the
//! shared chaining stub ([`translate::emit_stub`]), which finds the
//! target's block in the table and checks that it is current. Either way
//! the next block must fit in what is left of the budget, or the exit
//! returns to the run loop.
//!
//! Compiled code is kept until the memory it uses passes [`CODE_LIMIT`]
//! bytes; then everything is dropped and compiled anew as it gets hot.

pub mod translate;

use std::time::{Duration, Instant};

use cranelift_codegen::ir::{AbiParam, InstBuilder, types};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::Module;

pub use translate::JitCtx;

/// Which engine runs guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Engine {
    /// The interpreter only: the reference engine.
    Interp,
    /// The interpreter for cold code, translated host code for hot code.
    #[default]
    Jit,
}

impl Engine {
    /// The engine's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Interp => "interp",
            Engine::Jit => "jit",
        }
    }

    /// The engine named by the `HV_ENGINE` environment variable (`jit` or
    /// `interp`), if it is set to one of them.
    pub fn from_env() -> Option<Engine> {
        match std::env::var("HV_ENGINE").ok()?.as_str() {
            "jit" => Some(Engine::Jit),
            "interp" => Some(Engine::Interp),
            _ => None,
        }
    }
}

/// The engine new machines start with: 0 unset, else 1 + `Engine as u8`.
static DEFAULT_ENGINE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

impl Engine {
    /// The engine a new [`super::Machine`] starts with: the one set with
    /// [`Engine::set_default`], else `HV_ENGINE` ([`Engine::from_env`]),
    /// else [`Engine::Jit`].
    pub fn default_for_new_machines() -> Engine {
        match DEFAULT_ENGINE.load(std::sync::atomic::Ordering::Relaxed) {
            1 => Engine::Interp,
            2 => Engine::Jit,
            _ => Engine::from_env().unwrap_or_default(),
        }
    }

    /// Sets the engine machines built from now on start with (a
    /// command-line `--engine`).
    pub fn set_default(engine: Engine) {
        let v = match engine {
            Engine::Interp => 1,
            Engine::Jit => 2,
        };
        DEFAULT_ENGINE.store(v, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether this host can run [`Engine::Jit`].
    pub fn jit_supported() -> bool {
        cranelift_native::builder().is_ok()
    }
}

impl core::str::FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "jit" => Ok(Engine::Jit),
            "interp" => Ok(Engine::Interp),
            other => Err(format!("unknown engine {other:?} (expected jit or interp)")),
        }
    }
}

/// Executions of a dispatch point before its block is translated. Tuned
/// on Debian's Linux to power-off (natively), where Cranelift takes
/// ~150-400 µs per block (the interpreter runs 50,000-100,000
/// instructions meanwhile), so only code that clearly runs long is worth
/// it. Measured (host time to power-off; blocks; translation time): 500:
/// 8.1 s, 4158 blocks, 1.37 s; 2000: 7.4 s, 1938, 0.68 s; 10,000: 7.2 s,
/// 563, 0.22 s, with 95% of instructions still run translated. Checked
/// again on 2026-12-06 (no e-graph optimizer, [`EXIT_WEIGHT`] 10): 6000
/// translates for 12% of Linux's host time instead of 8%, and the run is
/// no faster.
/// `HV_JIT_THRESHOLD` overrides it.
pub const HOT_THRESHOLD: u32 = 10_000;
/// The environment variable `name`, if set to a number: at least 1. For
/// every new machine, `HV_JIT_THRESHOLD` sets the hot threshold (tests set
/// it to 1 to run everything they can translated) and
/// `HV_JIT_EXIT_WEIGHT` the [`EXIT_WEIGHT`].
fn count_from_env(name: &str) -> Option<u32> {
    std::env::var(name)
        .ok()?
        .parse::<u32>()
        .ok()
        .map(|n| n.max(1))
}

/// What one arrival at a dispatch point not yet translated counts for
/// when translated code left for it (the block's exit could not chain):
/// this many executions, where one the interpreter reached counts one.
/// Each such arrival costs a return to the run loop on top of
/// interpreting the code, and code that hot code goes to is likely hot
/// itself (a loop's exit, a return point, the other way of a branch), so
/// it is worth translating sooner. Measured on CoreMark (3000
/// iterations, `-M mipssim`; host time, min of 10 runs; exits to the run
/// loop) with the optimizing code generator: 1: 0.51 s, 462,552; 6: 0.45
/// s, ~140,000; 10: 0.44 s, ~68,000; and without it (as now): 4: 0.44 s,
/// 6: 0.41-0.43 s, 10: 0.41-0.42 s. On Linux to power-off the translated
/// code grows with it (12,054 guest instructions at 1, 17,393 at 6,
/// 19,691 at 10: translating 8% of host time), the host time does not.
/// `HV_JIT_EXIT_WEIGHT` overrides it.
pub const EXIT_WEIGHT: u32 = 10;

/// A dispatch point the interpreter has run at least `1 / WARM_SHARE` of
/// [`HOT_THRESHOLD`] times is warm: a region translated from a hot
/// point takes it in (`Jit::is_warm`).
pub const WARM_SHARE: u32 = 16;

/// What the chaining stub's answers depend on (see [`Jit::refresh_epoch`]):
/// the translation cache's changes, the code cache's changes, the
/// regime's set and the ASID.
pub(crate) type EpochKey = (u64, u64, usize, u32);

/// Bytes of compiled code kept before everything is dropped.
pub const CODE_LIMIT: usize = 64 << 20;
/// Entries of the dispatch table (a power of two).
pub const TABLE_ENTRIES: usize = 1 << 16;
/// On a monitor's machine the dispatch table's index is the instruction's
/// word address with its bits from this one up folded in: the same code
/// at addresses a multiple of the table's span apart (two VMs booting the
/// same kernel, 128 MiB apart in machine memory) then takes different
/// entries instead of evicting each other's for ever. A bare machine has
/// one copy of its code and skips the fold ([`Jit::new`]'s `fold`).
/// [`translate::emit_stub`] computes the same index.
pub const INDEX_FOLD: u32 = 16;
/// Bytes of one dispatch-table entry (translated code reads them).
pub const ENTRY_SIZE: usize = core::mem::size_of::<Entry>();

/// Field offsets of a dispatch-table entry, for translated code.
pub mod entry_offsets {
    use super::Entry;
    use core::mem::offset_of;
    /// `Entry::phys`.
    pub const PHYS: i32 = offset_of!(Entry, phys) as i32;
    /// `Entry::vpc`.
    pub const VPC: i32 = offset_of!(Entry, vpc) as i32;
    /// `Entry::slot`.
    pub const SLOT: i32 = offset_of!(Entry, slot) as i32;
    /// `Entry::generation`.
    pub const GENERATION: i32 = offset_of!(Entry, generation) as i32;
    /// `Entry::len`.
    pub const LEN: i32 = offset_of!(Entry, len) as i32;
    /// `Entry::code`.
    pub const CODE: i32 = offset_of!(Entry, code) as i32;
}
/// A counter value meaning: do not translate (the block would be empty,
/// or compiling failed).
const NEVER: u32 = u32::MAX;

/// Counters of the translating tier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JitStats {
    /// Blocks translated.
    pub blocks: u64,
    /// Guest instructions in them.
    pub block_insns: u64,
    /// Host time spent translating (a host figure: it varies run to run).
    pub translate_time: Duration,
    /// Times translated code was entered.
    pub entries: u64,
    /// Guest instructions executed by translated code.
    pub insns: u64,
    /// Block exits that went on to the next block without returning to
    /// the run loop.
    pub chained: u64,
    /// Block exits that returned to the run loop.
    pub unchained: u64,
    /// Exits before an instruction the block could not complete (a
    /// translation-cache miss, a fault to raise, a store to code).
    pub bailouts: u64,
    /// Blocks found stale (their page's code was written) and dropped.
    pub invalidations: u64,
    /// Times all compiled code was dropped ([`CODE_LIMIT`], host writes).
    pub flushes: u64,
}

/// A compiled block's entry. Its true signature is
/// `fn(*mut JitCtx, budget: u64, chained: u64) -> u32` in Cranelift's
/// `tail` calling convention, so it is called only through the
/// trampoline; it returns the number of the exit it took.
pub type BlockFn = unsafe extern "C" fn(*mut JitCtx) -> u32;

/// The trampoline: calls a block with a context.
type Trampoline = unsafe extern "C" fn(*mut JitCtx, BlockFn) -> u32;

/// Compiles the function built in `ctx` into `module` and makes it
/// executable: its entry address and its size in bytes.
fn define(
    module: &mut JITModule,
    ctx: &mut cranelift_codegen::Context,
) -> Option<(*const u8, usize)> {
    let id = module
        .declare_anonymous_function(&ctx.func.signature)
        .ok()?;
    module.define_function(id, ctx).ok()?;
    let size = ctx.compiled_code().map_or(0, |c| c.code_buffer().len());
    module.clear_context(ctx);
    module.finalize_definitions().ok()?;
    Some((module.get_finalized_function(id), size))
}

/// The signature of a block: `fn(ctx, budget left, chained exits so far)
/// -> exit` in the `tail` convention.
fn block_signature(module: &JITModule) -> cranelift_codegen::ir::Signature {
    let ptr = module.target_config().pointer_type();
    let mut sig = cranelift_codegen::ir::Signature::new(cranelift_codegen::isa::CallConv::Tail);
    sig.params.push(AbiParam::new(ptr));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(types::I32));
    sig
}

/// Chain cells per chunk of [`Jit::cells`].
const CELL_CHUNK: usize = 1 << 14;

/// One entry of the dispatch table. `repr(C)`: translated code reads it
/// to chain blocks (see [`entry_offsets`]).
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Entry {
    /// Buffer offset of the first instruction, or `u32::MAX`.
    phys: u32,
    /// Its virtual address.
    vpc: u32,
    /// The code-cache slot and the generation the entry is for.
    slot: u32,
    generation: u32,
    /// Executions counted so far, or [`NEVER`].
    count: u32,
    /// Instructions in the block (its most, when it runs to the end).
    len: u32,
    /// Unused: keeps `code` aligned.
    pad: u32,
    /// The compiled block, if any (`None` is the null pointer).
    code: Option<BlockFn>,
}

impl Entry {
    const EMPTY: Entry = Entry {
        phys: u32::MAX,
        vpc: 0,
        slot: 0,
        generation: 0,
        count: 0,
        len: 0,
        pad: 0,
        code: None,
    };
}

/// What the run loop should do at a dispatch point.
pub(crate) enum Probe {
    /// Enter this block of `len` instructions (if it fits).
    Run(BlockFn, u32),
    /// Translate the block starting here.
    Translate,
    /// Interpret.
    Interpret,
}

/// The translator: compiled blocks, the dispatch table, counters.
pub struct Jit {
    module: Option<JITModule>,
    fctx: FunctionBuilderContext,
    /// The code generator's context, kept between functions so that its
    /// buffers are reused.
    cctx: cranelift_codegen::Context,
    table: Vec<Entry>,
    /// The exits of every compiled block: translated code returns an
    /// index into it.
    exits: Vec<translate::Exit>,
    /// The chain cells of the exits, by exit number, in chunks that never
    /// move (translated code holds their addresses).
    cells: Vec<Box<[translate::ChainCell]>>,
    /// What [`JitCtx::epoch`] was last started for ([`Jit::refresh_epoch`]).
    epoch_key: EpochKey,
    /// Calls a block (the blocks use the `tail` calling convention, so
    /// that they can chain with tail calls).
    trampoline: Option<Trampoline>,
    /// The context blocks run with.
    pub(crate) ctx: Box<JitCtx>,
    /// The chaining stub (null until compiled with the trampoline).
    stub: *const u8,
    /// The lookup thunk ([`translate::emit_lookup`]), compiled with the
    /// stub; null when there is none.
    lookup: *const u8,
    code_bytes: usize,
    epoch: u64,
    /// Executions before translation ([`HOT_THRESHOLD`] by default).
    threshold: u32,
    /// See [`EXIT_WEIGHT`].
    exit_weight: u32,
    /// Whether the dispatch index folds the high address bits in
    /// ([`INDEX_FOLD`]): all ones on a monitor's machine, else zero.
    fold_mask: usize,
    /// Counters.
    pub stats: JitStats,
}

impl core::fmt::Debug for Jit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Jit").field("stats", &self.stats).finish()
    }
}

/// Why the translating tier is not available.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the translating engine is not available on this host: {0}")]
pub struct Unavailable(pub String);

fn new_module() -> Result<JITModule, Unavailable> {
    let mut flags = settings::builder();
    let set = |f: &mut settings::Builder, k, v| {
        f.set(k, v)
            .map_err(|e| Unavailable(format!("setting {k}: {e}")))
    };
    set(&mut flags, "use_colocated_libcalls", "false")?;
    set(&mut flags, "is_pic", "false")?;
    // Blocks chain with tail calls, which need frame pointers.
    set(&mut flags, "preserve_frame_pointers", "true")?;
    // No e-graph optimizer: the translator emits little it could improve
    // (moves, zero offsets and constant branches fold while emitting;
    // register and base loads happen once per block), and it took ~30% of
    // compile time. Measured with EXIT_WEIGHT 6 (min of 10 runs): CoreMark
    // (3000 iterations) `speed` 0.45-0.46 s, `none` 0.42-0.43 s; 10,000
    // iterations 1.24 s vs 1.21 s; Linux to power-off translating 0.47-0.52
    // s vs 0.32-0.36 s, the same host time. The backtracking register
    // allocator stays: the single-pass one made the code 30% slower.
    set(&mut flags, "opt_level", "none")?;
    set(&mut flags, "regalloc_algorithm", "backtracking")?;
    // The IR verifier costs more than the rest of compiling a small
    // block: on in debug builds (tests), off in release builds.
    set(
        &mut flags,
        "enable_verifier",
        if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        },
    )?;
    let isa = cranelift_native::builder()
        .map_err(|e| Unavailable(e.to_string()))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| Unavailable(e.to_string()))?;
    Ok(JITModule::new(JITBuilder::with_isa(
        isa,
        cranelift_module::default_libcall_names(),
    )))
}

impl Jit {
    /// A translator for this host, or why there is none; `fold` selects
    /// the dispatch index of a monitor's machine ([`INDEX_FOLD`]).
    pub fn new(fold: bool) -> Result<Self, Unavailable> {
        Ok(Self {
            module: Some(new_module()?),
            fctx: FunctionBuilderContext::new(),
            cctx: cranelift_codegen::Context::new(),
            table: vec![Entry::EMPTY; TABLE_ENTRIES],
            exits: Vec::new(),
            cells: Vec::new(),
            epoch_key: EpochKey::default(),
            trampoline: None,
            ctx: Box::new(JitCtx::empty()),
            stub: core::ptr::null(),
            lookup: core::ptr::null(),
            code_bytes: 0,
            epoch: 0,
            threshold: count_from_env("HV_JIT_THRESHOLD").unwrap_or(HOT_THRESHOLD),
            exit_weight: count_from_env("HV_JIT_EXIT_WEIGHT").unwrap_or(EXIT_WEIGHT),
            fold_mask: if fold { usize::MAX } else { 0 },
            stats: JitStats::default(),
        })
    }

    /// Sets how many executions make a dispatch point hot (at least 1).
    pub(crate) fn set_threshold(&mut self, n: u32) {
        self.threshold = n.clamp(1, NEVER - 1);
    }

    /// The dispatch table's address, for the context.
    pub(crate) fn table_ptr(&self) -> *const u8 {
        self.table.as_ptr().cast()
    }

    /// The chaining stub's address, for the context.
    pub(crate) fn stub_ptr(&self) -> *const u8 {
        self.stub
    }

    /// Exit number `k`.
    #[inline(always)]
    pub(crate) fn exit(&self, k: u32) -> Option<translate::Exit> {
        self.exits.get(k as usize).copied()
    }

    /// Starts a new [`JitCtx::epoch`] unless `key` (what the chaining
    /// stub's answers depend on: the translation cache's and the code
    /// cache's changes, the regime and the ASID) is the one of the last
    /// entry.
    #[inline(always)]
    pub(crate) fn refresh_epoch(&mut self, key: EpochKey) {
        if key != self.epoch_key {
            self.epoch_key = key;
            self.ctx.epoch += 1;
        }
    }

    /// Fills in the chain cell of exit `k` (one with
    /// [`translate::Exit::cell`], just taken) with the block `f` of `len`
    /// instructions that its target has now (current, and in the exiting
    /// block's page: see [`translate::ChainCell`]).
    pub(crate) fn set_cell(&mut self, k: u32, f: BlockFn, len: u32) {
        let k = k as usize;
        if let Some(cell) = self
            .cells
            .get_mut(k / CELL_CHUNK)
            .and_then(|c| c.get_mut(k % CELL_CHUNK))
        {
            *cell = translate::ChainCell {
                code: f as *const u8,
                len: u64::from(len),
                ..translate::ChainCell::EMPTY
            };
        }
    }

    /// Makes room for the exits of one more block: numbers them from
    /// [`Jit::exits`]' length (padded so that they do not straddle two
    /// chunks of cells); returns the first number and its cell's address.
    fn reserve_exits(&mut self) -> Option<(u32, usize)> {
        let max = translate::MAX_EXITS as usize;
        let mut first = self.exits.len();
        if first % CELL_CHUNK + max > CELL_CHUNK {
            first = first.next_multiple_of(CELL_CHUNK);
            self.exits.resize(first, translate::Exit::UNUSED);
        }
        while self.cells.len() * CELL_CHUNK < first + max {
            self.cells
                .push(vec![translate::ChainCell::EMPTY; CELL_CHUNK].into_boxed_slice());
        }
        let cell = &self.cells[first / CELL_CHUNK][first % CELL_CHUNK];
        Some((
            u32::try_from(first).ok()?,
            core::ptr::from_ref(cell) as usize,
        ))
    }

    /// Runs block `f` with the context [`Jit::ctx`] (its pointers set by
    /// the caller); returns the number of the exit taken.
    ///
    /// # Safety
    /// Every pointer in the context must be valid as [`JitCtx`] says,
    /// and nothing else may touch what they point to during the call.
    #[inline(always)]
    pub(crate) unsafe fn call(&mut self, f: BlockFn) -> u32 {
        let Some(t) = self.trampoline else {
            unreachable!("a block exists only where the trampoline was compiled first");
        };
        // SAFETY: the trampoline and `f` were compiled by this module and
        // are valid until it is flushed, which cannot happen during the
        // call; the caller vouches for the context.
        unsafe { t(&mut *self.ctx, f) }
    }

    #[inline(always)]
    fn index(&self, phys: u32) -> usize {
        let x = phys as usize >> 2;
        (x ^ ((x >> INDEX_FOLD) & self.fold_mask)) & (TABLE_ENTRIES - 1)
    }

    /// Drops every block if the code cache was cleared since the last call.
    #[inline]
    pub(crate) fn sync(&mut self, code_epoch: u64) {
        if code_epoch != self.epoch {
            self.epoch = code_epoch;
            self.flush();
        }
    }

    /// What to do at the dispatch point `vpc` (buffer offset `phys`, page
    /// slot `slot` whose current generation is `generation`), reached
    /// from an exit of translated code if `after_exit` (it then counts
    /// [`EXIT_WEIGHT`] executions), else by the interpreter.
    #[inline(always)]
    pub(crate) fn probe(
        &mut self,
        phys: u32,
        vpc: u32,
        slot: u32,
        generation: u32,
        after_exit: bool,
    ) -> Probe {
        let weight = if after_exit { self.exit_weight } else { 1 };
        let i = self.index(phys);
        let e = &mut self.table[i];
        if e.phys == phys && e.vpc == vpc && e.slot == slot {
            if e.generation == generation {
                if let Some(f) = e.code {
                    return Probe::Run(f, e.len);
                }
                if e.count == NEVER {
                    return Probe::Interpret;
                }
                e.count = e.count.saturating_add(weight).min(NEVER - 1);
                return if e.count >= self.threshold {
                    Probe::Translate
                } else {
                    Probe::Interpret
                };
            }
            // Its page's code was written since.
            if e.code.is_some() {
                self.stats.invalidations += 1;
            }
        }
        *e = Entry {
            phys,
            vpc,
            slot,
            generation,
            count: weight,
            len: 0,
            pad: 0,
            code: None,
        };
        Probe::Interpret
    }

    /// Whether the dispatch point `vpc` (buffer offset `phys`, in `slot`
    /// at `generation`) is warm: the interpreter has run it at least a
    /// [`WARM_SHARE`]th of the hot threshold times, and it is not
    /// translated yet (a region taking a translated block in would only
    /// compile it again). A region takes warm successors in
    /// ([`translate::region`]).
    pub(crate) fn is_warm(&self, phys: u32, vpc: u32, slot: u32, generation: u32) -> bool {
        let e = &self.table[self.index(phys)];
        e.phys == phys
            && e.vpc == vpc
            && e.slot == slot
            && e.generation == generation
            && e.code.is_none()
            && e.count != NEVER
            && e.count >= (self.threshold / WARM_SHARE).max(1)
    }

    /// Translates the block planned as `plan` for dispatch point `vpc`
    /// (buffer offset `phys`, valid for `generation` of `slot`) and
    /// installs it; a block that cannot be translated is marked never to
    /// be tried again (for this generation). `how` says what the plan was
    /// made with.
    pub(crate) fn install(
        &mut self,
        phys: u32,
        vpc: u32,
        slot: u32,
        generation: u32,
        region: &[translate::Plan],
        how: translate::Planned,
    ) {
        let len = region.first().map_or(0, |p| p.insns.len() as u32);
        let code = if len == 0 {
            None
        } else {
            if self.code_bytes > CODE_LIMIT {
                self.flush();
            }
            let start = Instant::now();
            // A failure of the code generator (an error, or a panic: a
            // bug in it or here) must not take the host down: the block
            // stays interpreted, and after a panic, whose half-finished
            // work may be left in the module, everything is dropped.
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.compile(region, how)
            }));
            self.stats.translate_time += start.elapsed();
            match code {
                Ok(code) => code,
                Err(_) => {
                    self.flush();
                    None
                }
            }
        };
        let code = match code {
            Some((f, exits)) => {
                self.stats.blocks += region.len() as u64;
                self.stats.block_insns += region.iter().map(|p| p.insns.len() as u64).sum::<u64>();
                self.exits.extend(exits);
                Some(f)
            }
            None => None,
        };
        let i = self.index(phys);
        self.table[i] = Entry {
            phys,
            vpc,
            slot,
            generation,
            count: NEVER,
            len,
            pad: 0,
            code,
        };
    }

    fn compile(
        &mut self,
        region: &[translate::Plan],
        how: translate::Planned,
    ) -> Option<(BlockFn, Vec<translate::Exit>)> {
        let start = region.first()?.insns.first()?.0;
        if self.trampoline.is_none() {
            self.stub = self.compile_stub()?;
            self.lookup = self.compile_lookup()?;
            self.trampoline = Some(self.compile_trampoline()?);
        }
        let (first_exit, cells) = self.reserve_exits()?;
        let at = translate::Placement {
            vpage: start & !0xfff,
            first_exit,
            cells,
            page2: how.page2,
            kseg0: how.kseg0,
            lookup: self.lookup as usize,
        };
        let module = self.module.as_mut()?;
        let config = module.target_config();
        let ptr = config.pointer_type();
        let ctx = &mut self.cctx;
        module.clear_context(ctx);
        ctx.func.signature = block_signature(module);
        let exits = {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut self.fctx);
            let exits = translate::emit(&mut b, ptr, region, at);
            b.seal_all_blocks();
            b.finalize(config);
            exits
        };
        let (p, size) = define(module, ctx)?;
        self.code_bytes += size.max(16);
        // SAFETY: `p` is the entry of a function just compiled by this
        // module with the signature `fn(*mut JitCtx) -> u32` in the host's
        // default calling convention, and it stays mapped until the
        // module is freed, which also clears the table holding `p`.
        let f = unsafe { core::mem::transmute::<*const u8, BlockFn>(p) };
        Some((f, exits))
    }

    /// Compiles the lookup thunk ([`translate::emit_lookup`]).
    fn compile_lookup(&mut self) -> Option<*const u8> {
        let ptr = self.module.as_ref()?.target_config().pointer_type();
        self.compile_helper(translate::lookup_signature(ptr), translate::emit_lookup)
    }

    /// Compiles the chaining stub ([`translate::emit_stub`]).
    fn compile_stub(&mut self) -> Option<*const u8> {
        let module = self.module.as_ref()?;
        let ptr = module.target_config().pointer_type();
        let block_sig = block_signature(module);
        let fold = self.fold_mask != 0;
        self.compile_helper(translate::stub_signature(ptr), |b, ptr| {
            translate::emit_stub(b, ptr, block_sig, fold)
        })
    }

    /// Compiles a function shared by all blocks, with `signature`, whose
    /// body `emit` builds: its entry address.
    fn compile_helper(
        &mut self,
        signature: cranelift_codegen::ir::Signature,
        emit: impl FnOnce(&mut FunctionBuilder<'_>, types::Type),
    ) -> Option<*const u8> {
        let module = self.module.as_mut()?;
        let config = module.target_config();
        let ctx = &mut self.cctx;
        module.clear_context(ctx);
        ctx.func.signature = signature;
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut self.fctx);
            emit(&mut b, config.pointer_type());
            b.finalize(config);
        }
        define(module, ctx).map(|(p, _)| p)
    }

    /// Compiles the trampoline: `fn(ctx, block) -> u32` in the host's
    /// calling convention, calling `block(ctx)` in the `tail` convention.
    fn compile_trampoline(&mut self) -> Option<Trampoline> {
        let module = self.module.as_mut()?;
        let config = module.target_config();
        let ptr = config.pointer_type();
        let ctx = &mut self.cctx;
        module.clear_context(ctx);
        ctx.func.signature.params.push(AbiParam::new(ptr));
        ctx.func.signature.params.push(AbiParam::new(ptr));
        ctx.func.signature.returns.push(AbiParam::new(types::I32));
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut self.fctx);
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let (c, f) = (b.block_params(entry)[0], b.block_params(entry)[1]);
            let sig = b.import_signature(block_signature(module));
            let budget = b.ins().load(
                types::I64,
                cranelift_codegen::ir::MemFlagsData::trusted(),
                c,
                translate::offsets::BUDGET,
            );
            let zero = b.ins().iconst(types::I64, 0);
            let call = b.ins().call_indirect(sig, f, &[c, budget, zero]);
            let k = b.inst_results(call)[0];
            b.ins().return_(&[k]);
            b.seal_all_blocks();
            b.finalize(config);
        }
        let (p, _) = define(module, ctx)?;
        // SAFETY: `p` is the entry of the function just compiled with the
        // signature `fn(*mut JitCtx, BlockFn) -> u32` in the host's
        // default calling convention; it stays mapped until the module is
        // freed, which also drops this pointer.
        Some(unsafe { core::mem::transmute::<*const u8, Trampoline>(p) })
    }

    /// Drops every compiled block and counter.
    pub(crate) fn flush(&mut self) {
        self.table.fill(Entry::EMPTY);
        self.exits.clear();
        self.cells.clear();
        self.trampoline = None;
        self.stub = core::ptr::null();
        self.lookup = core::ptr::null();
        if self.code_bytes > 0 {
            self.stats.flushes += 1;
            if let Some(old) = self.module.take() {
                // SAFETY: no pointer into the old module's code remains:
                // the table and the chain cells, the only holders, were
                // just cleared, and no
                // block is running (this is called from the run loop or
                // the host, never from translated code).
                unsafe { old.free_memory() };
            }
            self.module = new_module().ok();
            self.code_bytes = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many arrivals at a fresh dispatch point make it hot.
    fn arrivals_until_hot(jit: &mut Jit, phys: u32, after_exit: bool) -> u32 {
        for n in 1..=1000 {
            if let Probe::Translate = jit.probe(phys, 0x8000_0000 + phys, 0, 0, after_exit) {
                return n;
            }
        }
        panic!("never hot");
    }

    #[test]
    fn an_arrival_from_a_block_exit_counts_the_exit_weight() {
        let Ok(mut jit) = Jit::new(false) else {
            return; // no code generator for this host
        };
        jit.set_threshold(100);
        jit.exit_weight = 10;
        // Interpreted arrivals count one each: hot on the 100th (the
        // first only creates the entry).
        assert_eq!(arrivals_until_hot(&mut jit, 0x1000, false), 100);
        // Arrivals from exits count ten.
        assert_eq!(arrivals_until_hot(&mut jit, 0x2000, true), 10);
        // Mixed: 5 from exits (50) and 50 interpreted.
        for _ in 0..5 {
            assert!(matches!(
                jit.probe(0x3000, 0x8000_3000, 0, 0, true),
                Probe::Interpret
            ));
        }
        assert_eq!(arrivals_until_hot(&mut jit, 0x3000, false), 50);
    }
}
