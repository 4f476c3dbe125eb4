//! The second tier of the CPU engine: hot guest code translated to host
//! machine code with Cranelift.
//!
//! The interpreter ([`super::exec`]) is the reference engine and runs all
//! code first. Each place the run loop dispatches from (a PC outside a
//! delay slot) has a counter in a direct-mapped table keyed by the
//! physical address and virtual PC; when it reaches [`HOT_THRESHOLD`],
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
//! Compiled code is kept until the memory it uses passes [`CODE_LIMIT`]
//! bytes; then everything is dropped and compiled anew as it gets hot.

pub mod translate;

use std::time::{Duration, Instant};

use cranelift_codegen::ir::{AbiParam, types};
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

/// Executions of a dispatch point before its block is translated.
pub const HOT_THRESHOLD: u32 = 32;
/// Bytes of compiled code kept before everything is dropped.
pub const CODE_LIMIT: usize = 64 << 20;
/// Entries of the dispatch table (a power of two).
const TABLE_ENTRIES: usize = 1 << 16;
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

/// A compiled block's entry: returns the number of the exit it took.
pub type BlockFn = unsafe extern "C" fn(*mut JitCtx) -> u32;

/// One entry of the dispatch table.
#[derive(Clone, Copy)]
struct Entry {
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
    /// The compiled block, if any.
    code: Option<BlockFn>,
    /// Its exits: an index into [`Jit::exits`].
    exits: u32,
}

impl Entry {
    const EMPTY: Entry = Entry {
        phys: u32::MAX,
        vpc: 0,
        slot: 0,
        generation: 0,
        count: 0,
        len: 0,
        code: None,
        exits: 0,
    };
}

/// What the run loop should do at a dispatch point.
pub(crate) enum Probe {
    /// Enter this block of `len` instructions (if it fits); its exits are
    /// [`Jit::exits`]`(exits)`.
    Run(BlockFn, u32, u32),
    /// Translate the block starting here.
    Translate,
    /// Interpret.
    Interpret,
}

/// The translator: compiled blocks, the dispatch table, counters.
pub struct Jit {
    module: Option<JITModule>,
    fctx: FunctionBuilderContext,
    table: Vec<Entry>,
    /// The exit tables of the compiled blocks.
    exit_tables: Vec<Box<[translate::Exit]>>,
    code_bytes: usize,
    epoch: u64,
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
    let o = std::env::var("JITOPT").unwrap_or("none".into());
    flags.set("opt_level", &o).map_err(|e| Unavailable(e.to_string()))?;
    if let Ok(r) = std::env::var("JITRA") { flags.set("regalloc_algorithm", &r).map_err(|e| Unavailable(e.to_string()))?; }
    // The IR verifier costs more than the rest of compiling a small
    // block: on in debug builds (tests), off in release builds.
    set(
        &mut flags,
        "enable_verifier",
        if cfg!(debug_assertions) { "true" } else { "false" },
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
    /// A translator for this host, or why there is none.
    pub fn new() -> Result<Self, Unavailable> {
        Ok(Self {
            module: Some(new_module()?),
            fctx: FunctionBuilderContext::new(),
            table: vec![Entry::EMPTY; TABLE_ENTRIES],
            exit_tables: Vec::new(),
            code_bytes: 0,
            epoch: 0,
            stats: JitStats::default(),
        })
    }

    /// Exit `k` of the block whose exits are number `exits`.
    #[inline(always)]
    pub(crate) fn exit(&self, exits: u32, k: u32) -> Option<translate::Exit> {
        self.exit_tables
            .get(exits as usize)?
            .get(k as usize)
            .copied()
    }

    #[inline(always)]
    fn index(phys: u32) -> usize {
        (phys as usize >> 2) & (TABLE_ENTRIES - 1)
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
    /// slot `slot` whose current generation is `generation`).
    #[inline(always)]
    pub(crate) fn probe(&mut self, phys: u32, vpc: u32, slot: u32, generation: u32) -> Probe {
        let e = &mut self.table[Self::index(phys)];
        if e.phys == phys && e.vpc == vpc && e.slot == slot {
            if e.generation == generation {
                if let Some(f) = e.code {
                    return Probe::Run(f, e.len, e.exits);
                }
                if e.count == NEVER {
                    return Probe::Interpret;
                }
                e.count += 1;
                return if e.count >= HOT_THRESHOLD {
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
            count: 1,
            len: 0,
            code: None,
            exits: 0,
        };
        Probe::Interpret
    }

    /// Translates the block planned as `plan` for dispatch point `vpc`
    /// (buffer offset `phys`, valid for `generation` of `slot`) and
    /// installs it; a block that cannot be translated is marked never to
    /// be tried again (for this generation).
    pub(crate) fn install(
        &mut self,
        phys: u32,
        vpc: u32,
        slot: u32,
        generation: u32,
        plan: &translate::Plan,
    ) {
        let code = if plan.insns.is_empty() {
            None
        } else {
            if self.code_bytes > CODE_LIMIT {
                self.flush();
            }
            let start = Instant::now();
            let code = self.compile(plan);
            self.stats.translate_time += start.elapsed();
            code
        };
        let (code, exits) = match code {
            Some((f, exits)) => {
                self.stats.blocks += 1;
                self.stats.block_insns += plan.insns.len() as u64;
                self.exit_tables.push(exits.into_boxed_slice());
                (Some(f), self.exit_tables.len() as u32 - 1)
            }
            None => (None, 0),
        };
        self.table[Self::index(phys)] = Entry {
            phys,
            vpc,
            slot,
            generation,
            count: NEVER,
            len: plan.insns.len() as u32,
            code,
            exits,
        };
    }

    fn compile(&mut self, plan: &translate::Plan) -> Option<(BlockFn, Vec<translate::Exit>)> {
        let module = self.module.as_mut()?;
        let config = module.target_config();
        let ptr = config.pointer_type();
        let mut ctx = module.make_context();
        ctx.func.signature.params.push(AbiParam::new(ptr));
        ctx.func.signature.returns.push(AbiParam::new(types::I32));
        let exits = {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut self.fctx);
            let exits = translate::emit(&mut b, ptr, plan);
            b.seal_all_blocks();
            b.finalize(config);
            exits
        };
        if std::env::var("JITIR").is_ok() { eprintln!("{}", ctx.func.display()); }
        let id = module.declare_anonymous_function(&ctx.func.signature).ok()?;
        let t0 = Instant::now();
        module.define_function(id, &mut ctx).ok()?;
        if std::env::var("JITDBG").is_ok() { eprintln!("define {:?} insns {}", t0.elapsed(), plan.insns.len()); }
        let size = ctx
            .compiled_code()
            .map_or(0, |c| c.code_buffer().len());
        module.clear_context(&mut ctx);
        let t0 = Instant::now();
        module.finalize_definitions().ok()?;
        if std::env::var("JITDBG").is_ok() { eprintln!("finalize {:?}", t0.elapsed()); }
        self.code_bytes += size.max(16);
        let p = module.get_finalized_function(id);
        // SAFETY: `p` is the entry of a function just compiled by this
        // module with the signature `fn(*mut JitCtx) -> u32` in the host's
        // default calling convention, and it stays mapped until the
        // module is freed, which also clears the table holding `p`.
        let f = unsafe { core::mem::transmute::<*const u8, BlockFn>(p) };
        Some((f, exits))
    }

    /// Drops every compiled block and counter.
    pub(crate) fn flush(&mut self) {
        self.table.fill(Entry::EMPTY);
        self.exit_tables.clear();
        if self.code_bytes > 0 {
            self.stats.flushes += 1;
            if let Some(old) = self.module.take() {
                // SAFETY: no pointer into the old module's code remains:
                // the table, the only holder, was just cleared, and no
                // block is running (this is called from the run loop or
                // the host, never from translated code).
                unsafe { old.free_memory() };
            }
            self.module = new_module().ok();
            self.code_bytes = 0;
        }
    }
}
