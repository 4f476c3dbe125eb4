//! Debugging a guest with gdb (`--gdb ADDR`): a GDB remote-protocol stub
//! on the bare machine, built on the `gdbstub` crate (its 32-bit MIPS
//! architecture).
//!
//! The run starts stopped at the kernel's first instruction and waits for
//! one debugger on `ADDR`: a TCP `host:port` on the loopback interface, or
//! a Unix socket path. The debugger reads and writes the GPRs, HI/LO, PC
//! and the CP0 registers a MIPS gdb knows (Status, Cause, BadVAddr; reads
//! only), reads and writes memory at guest-virtual addresses as the guest
//! sees them now (through its TLB, with its current privilege; an address
//! that does not translate answers an error), sets software and hardware
//! breakpoints (both stop before the instruction at the address executes)
//! and write watchpoints (the run stops after an instruction that changed
//! a watched byte), single-steps one instruction (into a delay slot,
//! across an exception: the vector's first instruction comes next),
//! continues, and interrupts a running guest (Ctrl-C in gdb).
//!
//! Determinism: the machine runs the same whatever the debugger does not
//! change; with no breakpoint or watchpoint set, `continue` runs whole
//! slices, so a run that only continues prints and counts exactly what a
//! run without gdb does. With breakpoints or watchpoints set, the run
//! goes one instruction at a time (slower, the same instructions).

use super::RunnerError;
use super::target::Stop;
use gdbstub::common::Signal;
use gdbstub::conn::{Connection, ConnectionExt};
use gdbstub::stub::{DisconnectReason, GdbStub, SingleThreadStopReason, run_blocking};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::base::singlethread::{
    SingleThreadBase, SingleThreadResume, SingleThreadResumeOps, SingleThreadSingleStep,
    SingleThreadSingleStepOps,
};
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps,
    SwBreakpoint, SwBreakpointOps, WatchKind,
};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::mips::reg::MipsCoreRegs;
use gdbstub_arch::mips::{Mips, MipsBreakpointKind};
use hv_host::addr::GuestVirtAddr;
use hv_host::machine::cp0::reg;
use hv_host::machine::{CpuState, Exit, Machine};
use hv_host::monitor::{Monitor, MonitorExit, VmId};
use std::io::{self, Write};
use std::path::PathBuf;

/// Instructions a `continue` runs between looks at the connection (for
/// Ctrl-C), with no breakpoint or watchpoint set.
const CONTINUE_SLICE: u64 = 1_000_000;
/// Instructions stepped one by one between looks at the connection, with
/// breakpoints or watchpoints set.
const STEP_SLICE: u64 = 20_000;

/// Where the debugger connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GdbAddr {
    /// A TCP address on the loopback interface.
    Tcp(std::net::SocketAddr),
    /// A Unix socket path.
    Unix(PathBuf),
}

impl GdbAddr {
    /// Parses `--gdb`'s value: `host:port` (the host a loopback address or
    /// `localhost`) or a path.
    pub fn parse(s: &str) -> Result<Self, String> {
        use std::net::ToSocketAddrs;
        let looks_tcp = s
            .rsplit_once(':')
            .is_some_and(|(_, port)| !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()))
            && !s.contains('/');
        if !looks_tcp {
            if s.is_empty() {
                return Err("--gdb needs host:port or a socket path".into());
            }
            return Ok(GdbAddr::Unix(PathBuf::from(s)));
        }
        let addr = s
            .to_socket_addrs()
            .map_err(|e| format!("--gdb {s}: {e}"))?
            .find(|a| a.ip().is_loopback())
            .ok_or_else(|| {
                format!("--gdb {s}: the stub listens on the loopback interface only (127.0.0.1, ::1, localhost)")
            })?;
        Ok(GdbAddr::Tcp(addr))
    }
}

impl std::fmt::Display for GdbAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GdbAddr::Tcp(a) => write!(f, "{a}"),
            GdbAddr::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Waits for one debugger on `addr`.
fn accept(addr: &GdbAddr) -> io::Result<Box<dyn ConnectionExt<Error = io::Error>>> {
    match addr {
        GdbAddr::Tcp(a) => {
            let listener = std::net::TcpListener::bind(a)?;
            let (stream, _) = listener.accept()?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream))
        }
        GdbAddr::Unix(path) => {
            // A stale socket from an earlier run is replaced; anything
            // else at the path is left alone (bind fails on it).
            if std::fs::symlink_metadata(path)
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
            {
                std::fs::remove_file(path)?;
            }
            let listener = std::os::unix::net::UnixListener::bind(path)?;
            let (stream, _) = listener.accept()?;
            Ok(Box::new(stream))
        }
    }
}

/// What the debugger asked the guest to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resume {
    Continue,
    Step,
}

/// A write watchpoint: the bytes last seen there.
#[derive(Clone, Debug)]
struct Watch {
    addr: u32,
    len: u32,
    seen: Option<Vec<u8>>,
}

/// What the debugger drives: the bare machine, or the monitor with one
/// VM. Its guest's console goes straight to the process's stdout (stderr
/// for UHI fd 2), flushed after every stretch of running.
pub trait Debuggee {
    /// The guest's CPU state.
    fn cpu(&self) -> CpuState;
    /// Sets it.
    fn set_cpu(&mut self, s: &CpuState);
    /// Status, BadVAddr and Cause as the guest reads them.
    fn cp0(&self) -> [u32; 3];
    /// Guest-virtual memory as the guest sees it now.
    fn read(&self, va: u32, len: u32) -> Option<Vec<u8>>;
    /// Writes it; whether every byte was written.
    fn write(&mut self, va: u32, bytes: &[u8]) -> bool;
    /// Guest instructions executed so far.
    fn instructions(&self) -> u64;
    /// Runs at most `budget` more clock ticks; how the guest ended, if it
    /// did (with what gdb is told).
    fn run(&mut self, budget: u64) -> Option<(Stop, SingleThreadStopReason<u32>)>;
}

/// How a machine exit ends a debugged guest.
fn machine_end(exit: Exit) -> Option<(Stop, SingleThreadStopReason<u32>)> {
    Some(match exit {
        Exit::BudgetExhausted | Exit::OutputPending => return None,
        Exit::Shutdown { code } => (
            Stop::Exited(code),
            SingleThreadStopReason::Exited((code & 0xff) as u8),
        ),
        Exit::PowerOff => (Stop::PowerOff, SingleThreadStopReason::Exited(0)),
        Exit::Reset => (
            Stop::Reset,
            SingleThreadStopReason::Terminated(Signal::SIGHUP),
        ),
        Exit::Stalled => (
            Stop::Stalled,
            SingleThreadStopReason::Terminated(Signal::SIGSTOP),
        ),
        Exit::Trap(t) => (
            Stop::Trap(t),
            SingleThreadStopReason::Terminated(Signal::SIGTRAP),
        ),
        Exit::NoHandler(n) => (
            Stop::NoHandler(n),
            SingleThreadStopReason::Terminated(Signal::SIGILL),
        ),
    })
}

/// Writes the guest's console output out; an error shows on stderr (the
/// debugger still controls the run).
fn console_out(out: &[u8], err: &[u8]) {
    let r = (|| -> io::Result<()> {
        if !out.is_empty() {
            let mut o = io::stdout().lock();
            o.write_all(out)?;
            o.flush()?;
        }
        if !err.is_empty() {
            io::stderr().lock().write_all(err)?;
        }
        Ok(())
    })();
    if let Err(e) = r {
        let _ = writeln!(
            io::stderr(),
            "demo-os: gdb: writing the guest's output: {e}"
        );
    }
}

impl Debuggee for Machine {
    fn cpu(&self) -> CpuState {
        self.cpu_state()
    }
    fn set_cpu(&mut self, s: &CpuState) {
        self.set_cpu_state(s);
    }
    fn cp0(&self) -> [u32; 3] {
        [
            self.real_cp0(reg::STATUS, 0),
            self.real_cp0(reg::BADVADDR, 0),
            self.real_cp0(reg::CAUSE, 0),
        ]
    }
    fn read(&self, va: u32, len: u32) -> Option<Vec<u8>> {
        self.read_virtual(GuestVirtAddr::new(va), len)
    }
    fn write(&mut self, va: u32, bytes: &[u8]) -> bool {
        self.write_virtual(GuestVirtAddr::new(va), bytes).is_ok()
    }
    fn instructions(&self) -> u64 {
        Machine::instructions(self)
    }
    fn run(&mut self, budget: u64) -> Option<(Stop, SingleThreadStopReason<u32>)> {
        let exit = Machine::run(self, budget);
        let (out, err) = (self.take_stdout(), self.take_stderr());
        console_out(&out, &err);
        machine_end(exit)
    }
}

impl Debuggee for Monitor {
    fn cpu(&self) -> CpuState {
        self.cpu_state(VmId(0)).unwrap_or_default()
    }
    fn set_cpu(&mut self, s: &CpuState) {
        self.set_cpu_state(VmId(0), s);
    }
    fn cp0(&self) -> [u32; 3] {
        [reg::STATUS, reg::BADVADDR, reg::CAUSE].map(|r| self.guest_cp0(VmId(0), r, 0).unwrap_or(0))
    }
    fn read(&self, va: u32, len: u32) -> Option<Vec<u8>> {
        self.read_guest(VmId(0), GuestVirtAddr::new(va), len)
    }
    fn write(&mut self, va: u32, bytes: &[u8]) -> bool {
        self.write_guest(VmId(0), GuestVirtAddr::new(va), bytes)
    }
    fn instructions(&self) -> u64 {
        self.stats(VmId(0)).map_or(0, |s| s.guest_instructions)
    }
    fn run(&mut self, budget: u64) -> Option<(Stop, SingleThreadStopReason<u32>)> {
        let exit = Monitor::run(self, budget);
        let (out, err) = (self.take_console(VmId(0)), self.take_stderr(VmId(0)));
        console_out(&out, &err);
        if exit != MonitorExit::AllStopped {
            return None;
        }
        let stop = self.stop_reason(VmId(0)).map_or(Stop::Stalled, Stop::from);
        let reason = match &stop {
            Stop::Exited(code) => SingleThreadStopReason::Exited((code & 0xff) as u8),
            Stop::PowerOff => SingleThreadStopReason::Exited(0),
            _ => SingleThreadStopReason::Terminated(Signal::SIGSEGV),
        };
        Some((stop, reason))
    }
}

/// What runs the guest: the bare machine or the monitor (one VM).
pub enum Host {
    /// Natively.
    Machine(Box<Machine>),
    /// Under the monitor.
    Monitor(Box<Monitor>),
}

impl Host {
    fn get(&self) -> &dyn Debuggee {
        match self {
            Host::Machine(m) => &**m,
            Host::Monitor(m) => &**m,
        }
    }

    fn get_mut(&mut self) -> &mut dyn Debuggee {
        match self {
            Host::Machine(m) => &mut **m,
            Host::Monitor(m) => &mut **m,
        }
    }
}

impl Debuggee for Host {
    fn cpu(&self) -> CpuState {
        self.get().cpu()
    }
    fn set_cpu(&mut self, s: &CpuState) {
        self.get_mut().set_cpu(s);
    }
    fn cp0(&self) -> [u32; 3] {
        self.get().cp0()
    }
    fn read(&self, va: u32, len: u32) -> Option<Vec<u8>> {
        self.get().read(va, len)
    }
    fn write(&mut self, va: u32, bytes: &[u8]) -> bool {
        self.get_mut().write(va, bytes)
    }
    fn instructions(&self) -> u64 {
        self.get().instructions()
    }
    fn run(&mut self, budget: u64) -> Option<(Stop, SingleThreadStopReason<u32>)> {
        self.get_mut().run(budget)
    }
}

/// The guest under the debugger.
pub struct Debugged {
    machine: Host,
    breakpoints: Vec<u32>,
    watches: Vec<Watch>,
    resume: Resume,
    /// How the guest ended, once it has.
    ended: Option<Stop>,
    max_instructions: Option<u64>,
}

/// Why a stretch of running stopped.
enum Ran {
    /// The connection has data (Ctrl-C, or a packet).
    Incoming,
    /// The guest stopped for the debugger or ended.
    Stopped(SingleThreadStopReason<u32>),
}

impl Debugged {
    fn new(machine: Host, max_instructions: Option<u64>) -> Self {
        Self {
            machine,
            breakpoints: Vec::new(),
            watches: Vec::new(),
            resume: Resume::Continue,
            ended: None,
            max_instructions,
        }
    }

    /// Runs at most `budget` more ticks; the reason to stop, if the guest
    /// ended or reached the instruction limit.
    fn run(&mut self, budget: u64) -> Option<SingleThreadStopReason<u32>> {
        let budget = match self.max_instructions {
            Some(max) => {
                let left = max.saturating_sub(self.machine.instructions());
                if left == 0 {
                    self.ended = Some(Stop::Limit(max));
                    return Some(SingleThreadStopReason::Terminated(Signal::SIGXCPU));
                }
                budget.min(left)
            }
            None => budget,
        };
        let (stop, reason) = self.machine.run(budget)?;
        self.ended = Some(stop);
        Some(reason)
    }

    /// Executes one instruction (or an exception entry), whatever the
    /// budget's unit: ticks spent idle in `wait` are not instructions.
    fn step_one(&mut self) -> Option<SingleThreadStopReason<u32>> {
        let before = self.machine.instructions();
        // A CPU in `wait` skips ahead to its next interrupt in one go.
        for _ in 0..1_000_000 {
            if let Some(r) = self.run(1) {
                return Some(r);
            }
            if self.machine.instructions() != before {
                break;
            }
        }
        None
    }

    /// The first watchpoint whose bytes changed, recording what they are
    /// now.
    fn watch_hit(&mut self) -> Option<u32> {
        let mut hit = None;
        for w in &mut self.watches {
            let now = self.machine.read(w.addr, w.len);
            if now != w.seen {
                w.seen = now;
                hit = hit.or(Some(w.addr));
            }
        }
        hit
    }

    /// Runs as the debugger asked until it must hear of it, or until
    /// `incoming` says the connection has data.
    fn go(&mut self, mut incoming: impl FnMut() -> bool) -> Ran {
        if self.ended.is_some() {
            return Ran::Stopped(SingleThreadStopReason::Terminated(Signal::SIGKILL));
        }
        if self.resume == Resume::Step {
            if let Some(r) = self.step_one() {
                return Ran::Stopped(r);
            }
            if let Some(addr) = self.watch_hit() {
                return Ran::Stopped(SingleThreadStopReason::Watch {
                    tid: (),
                    kind: WatchKind::Write,
                    addr,
                });
            }
            return Ran::Stopped(SingleThreadStopReason::DoneStep);
        }
        loop {
            if incoming() {
                return Ran::Incoming;
            }
            if self.breakpoints.is_empty() && self.watches.is_empty() {
                if let Some(r) = self.run(CONTINUE_SLICE) {
                    return Ran::Stopped(r);
                }
                continue;
            }
            for _ in 0..STEP_SLICE {
                let pc = self.machine.cpu().pc.raw();
                if self.breakpoints.contains(&pc) {
                    return Ran::Stopped(SingleThreadStopReason::SwBreak(()));
                }
                if let Some(r) = self.step_one() {
                    return Ran::Stopped(r);
                }
                if let Some(addr) = self.watch_hit() {
                    return Ran::Stopped(SingleThreadStopReason::Watch {
                        tid: (),
                        kind: WatchKind::Write,
                        addr,
                    });
                }
            }
        }
    }
}

impl Target for Debugged {
    type Arch = Mips;
    type Error = &'static str;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::SingleThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadBase for Debugged {
    fn read_registers(&mut self, regs: &mut MipsCoreRegs<u32>) -> TargetResult<(), Self> {
        let s = self.machine.cpu();
        regs.r = s.gpr;
        regs.hi = s.hi;
        regs.lo = s.lo;
        regs.pc = s.pc.raw();
        [regs.cp0.status, regs.cp0.badvaddr, regs.cp0.cause] = self.machine.cp0();
        Ok(())
    }

    fn write_registers(&mut self, regs: &MipsCoreRegs<u32>) -> TargetResult<(), Self> {
        let mut s = self.machine.cpu();
        s.gpr = regs.r;
        s.gpr[0] = 0;
        s.hi = regs.hi;
        s.lo = regs.lo;
        if regs.pc != s.pc.raw() {
            // A new PC: straight-line from there (out of any delay slot).
            s.pc = GuestVirtAddr::new(regs.pc);
            s.next_pc = GuestVirtAddr::new(regs.pc.wrapping_add(4));
            s.delay_slot = false;
        }
        self.machine.set_cpu(&s);
        // CP0 is the guest kernel's: the debugger reads it only.
        Ok(())
    }

    fn read_addrs(&mut self, start: u32, data: &mut [u8]) -> TargetResult<usize, Self> {
        let mut done = 0usize;
        while done < data.len() {
            let a = start.wrapping_add(done as u32);
            let chunk = (data.len() - done).min((0x1000 - (a & 0xfff)) as usize);
            match self.machine.read(a, chunk as u32) {
                Some(bytes) => {
                    data[done..done + chunk].copy_from_slice(&bytes);
                    done += chunk;
                }
                None => break,
            }
        }
        if done == 0 && !data.is_empty() {
            return Err(TargetError::NonFatal);
        }
        Ok(done)
    }

    fn write_addrs(&mut self, start: u32, data: &[u8]) -> TargetResult<(), Self> {
        if self.machine.write(start, data) {
            Ok(())
        } else {
            Err(TargetError::NonFatal)
        }
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadResume for Debugged {
    fn resume(&mut self, signal: Option<Signal>) -> Result<(), Self::Error> {
        if signal.is_some() {
            return Err("the guest takes no signals");
        }
        self.resume = Resume::Continue;
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<SingleThreadSingleStepOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadSingleStep for Debugged {
    fn step(&mut self, signal: Option<Signal>) -> Result<(), Self::Error> {
        if signal.is_some() {
            return Err("the guest takes no signals");
        }
        self.resume = Resume::Step;
        Ok(())
    }
}

impl Breakpoints for Debugged {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl Debugged {
    fn add_breakpoint(&mut self, addr: u32) -> bool {
        if !self.breakpoints.contains(&addr) {
            self.breakpoints.push(addr);
        }
        true
    }

    fn remove_breakpoint(&mut self, addr: u32) -> bool {
        let before = self.breakpoints.len();
        self.breakpoints.retain(|&a| a != addr);
        self.breakpoints.len() != before
    }
}

impl SwBreakpoint for Debugged {
    fn add_sw_breakpoint(
        &mut self,
        addr: u32,
        _kind: MipsBreakpointKind,
    ) -> TargetResult<bool, Self> {
        Ok(self.add_breakpoint(addr))
    }

    fn remove_sw_breakpoint(
        &mut self,
        addr: u32,
        _kind: MipsBreakpointKind,
    ) -> TargetResult<bool, Self> {
        Ok(self.remove_breakpoint(addr))
    }
}

impl HwBreakpoint for Debugged {
    fn add_hw_breakpoint(
        &mut self,
        addr: u32,
        _kind: MipsBreakpointKind,
    ) -> TargetResult<bool, Self> {
        Ok(self.add_breakpoint(addr))
    }

    fn remove_hw_breakpoint(
        &mut self,
        addr: u32,
        _kind: MipsBreakpointKind,
    ) -> TargetResult<bool, Self> {
        Ok(self.remove_breakpoint(addr))
    }
}

impl HwWatchpoint for Debugged {
    fn add_hw_watchpoint(
        &mut self,
        addr: u32,
        len: u32,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        // Writes only: a read leaves nothing to compare.
        if kind != WatchKind::Write || len == 0 || len > 4096 {
            return Ok(false);
        }
        let seen = self.machine.read(addr, len);
        self.watches.push(Watch { addr, len, seen });
        Ok(true)
    }

    fn remove_hw_watchpoint(
        &mut self,
        addr: u32,
        len: u32,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        if kind != WatchKind::Write {
            return Ok(false);
        }
        let before = self.watches.len();
        self.watches.retain(|w| !(w.addr == addr && w.len == len));
        Ok(self.watches.len() != before)
    }
}

/// The event loop that runs the guest between packets.
enum EventLoop {}

impl run_blocking::BlockingEventLoop for EventLoop {
    type Target = Debugged;
    type Connection = Box<dyn ConnectionExt<Error = io::Error>>;
    type StopReason = SingleThreadStopReason<u32>;

    #[allow(clippy::type_complexity)]
    fn wait_for_stop_reason(
        target: &mut Self::Target,
        conn: &mut Self::Connection,
    ) -> Result<
        run_blocking::Event<Self::StopReason>,
        run_blocking::WaitForStopReasonError<
            <Self::Target as Target>::Error,
            <Self::Connection as Connection>::Error,
        >,
    > {
        let incoming = || conn.peek().map(|b| b.is_some()).unwrap_or(true);
        match target.go(incoming) {
            Ran::Incoming => {
                let byte = conn
                    .read()
                    .map_err(run_blocking::WaitForStopReasonError::Connection)?;
                Ok(run_blocking::Event::IncomingData(byte))
            }
            Ran::Stopped(r) => Ok(run_blocking::Event::TargetStopped(r)),
        }
    }

    fn on_interrupt(
        _target: &mut Self::Target,
    ) -> Result<Option<Self::StopReason>, <Self::Target as Target>::Error> {
        Ok(Some(SingleThreadStopReason::Signal(Signal::SIGINT)))
    }
}

/// Runs `machine` under a debugger on `addr` until the debugger detaches
/// or the guest ends. Returns the machine, and how the guest ended if it
/// did (else the run goes on without the debugger).
pub fn serve(
    machine: Host,
    addr: &GdbAddr,
    max_instructions: Option<u64>,
    stderr: &mut dyn Write,
) -> Result<(Host, Option<Stop>), RunnerError> {
    writeln!(
        stderr,
        "demo-os: gdb: waiting for a debugger on {addr} (the guest is stopped at its first instruction)"
    )?;
    stderr.flush()?;
    let conn = accept(addr).map_err(|e| RunnerError::Usage(format!("--gdb {addr}: {e}")))?;
    writeln!(stderr, "demo-os: gdb: debugger connected")?;
    let mut target = Debugged::new(machine, max_instructions);
    let result = GdbStub::new(conn).run_blocking::<EventLoop>(&mut target);
    let note = match result {
        Ok(DisconnectReason::Disconnect) => "the debugger detached; the guest runs on",
        Ok(DisconnectReason::TargetExited(_)) | Ok(DisconnectReason::TargetTerminated(_)) => {
            "the guest ended"
        }
        Ok(DisconnectReason::Kill) => {
            if target.ended.is_none() {
                target.ended = Some(Stop::Interrupted);
            }
            "the debugger killed the guest"
        }
        Err(e) => {
            writeln!(stderr, "demo-os: gdb: {e}; the guest runs on")?;
            ""
        }
    };
    if !note.is_empty() {
        writeln!(stderr, "demo-os: gdb: {note}")?;
    }
    Ok((target.machine, target.ended))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_loopback_tcp_or_a_socket_path() {
        assert!(
            matches!(GdbAddr::parse("127.0.0.1:1234"), Ok(GdbAddr::Tcp(a)) if a.port() == 1234)
        );
        assert!(matches!(
            GdbAddr::parse("localhost:1234"),
            Ok(GdbAddr::Tcp(_))
        ));
        assert!(matches!(GdbAddr::parse("[::1]:9"), Ok(GdbAddr::Tcp(_))));
        assert!(GdbAddr::parse("0.0.0.0:1234").is_err(), "not loopback");
        assert_eq!(
            GdbAddr::parse("/tmp/guest.sock"),
            Ok(GdbAddr::Unix(PathBuf::from("/tmp/guest.sock")))
        );
        assert!(GdbAddr::parse("").is_err());
    }
}
