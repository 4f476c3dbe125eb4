//! Debugging a guest with gdb (`--gdb ADDR`): a GDB remote-protocol stub
//! on the bare machine or the monitor, built on the `gdbstub` crate (its
//! 32-bit MIPS architecture).
//!
//! The run starts stopped at the kernel's first instruction and waits for
//! one debugger on `ADDR`: a TCP `host:port` on the loopback interface, or
//! a Unix socket path.
//!
//! Threads: each VM is a thread, VM `i` thread `i + 1` (`info threads`
//! names them `vm0`, `vm1`, ..., with how a VM ended once it has);
//! natively the one CPU is thread 1. Registers and memory are the selected
//! thread's: its GPRs, HI/LO, PC and CP0 registers, and its guest-virtual
//! memory as the VM sees it now (through its TLB, with its current
//! privilege; an address that does not translate answers an error).
//!
//! CP0: the registers a MIPS gdb knows (Status, Cause, BadVAddr: `$sr`,
//! `$cause`, `$badvaddr`) and, named by the stub's target description
//! ([`arch`]), EPC, ErrorEPC, Count, Compare, the TLB registers, PRId,
//! EBase and Config/Config1 (`$epc`, `info registers`). gdb writes one as
//! the guest's `mtc0` would: natively on the CPU's CP0
//! (`Machine::set_real_cp0`), under the monitor on the VM's virtual CP0
//! (`Monitor::set_guest_cp0`), through the register's write mask (its
//! read-only bits and registers keep their value: gdb shows the masked
//! result after the write) and with its side effects (a software
//! interrupt raised or unmasked is taken before the VM's next
//! instruction; a new Count or Compare moves the timer). gdb sends every
//! register back when it writes them all (`G`): only those whose value
//! differs from what the guest reads now are written.
//!
//! Stops stop the whole machine (all-stop), and the stop names the thread
//! (VM) it is about:
//!
//! - breakpoints (software and hardware alike) apply to every VM: a VM
//!   whose next instruction is at one stops before executing it (also
//!   when it is already there as a `continue` begins, as a CPU would trap;
//!   gdb steps the thread it reported over it itself);
//! - watchpoints apply to every VM, each at the address in its own address
//!   space. Read (`rwatch`) and access (`awatch`) watchpoints, and write
//!   watchpoints for the guest's own stores, stop before the instruction
//!   that loads or stores a watched byte, as a MIPS CPU's watch exception
//!   does, and gdb, which knows MIPS watchpoints so, steps that
//!   instruction and shows the value after it: the user sees the run
//!   stopped right after the access. The access is read off the
//!   instruction and its registers ([`access`]): the loads `lb lbu lh lhu
//!   lw lwl lwr ll`, the stores `sb sh sw swl swr sc`, counted only if the
//!   address translates (an access that faults touches nothing); one in a
//!   branch delay slot stops at its branch, since gdb cannot step a thread
//!   stopped in a delay slot. A write or access watchpoint also stops when
//!   its bytes change by other means (the monitor, a device): after the
//!   change, so gdb's own step lands one instruction further. Loads by the
//!   monitor (a hypercall's buffer, `--mode para`'s page-table walks) are
//!   no instructions of the guest and do not stop. gdb keeps one old value
//!   per write watchpoint, not one per thread: a store by another VM that
//!   writes what gdb last saw goes by silently;
//! - a single-step of a thread (`vCont;s`) runs the machine until that VM
//!   has executed one more instruction (into a delay slot; across an
//!   exception, whose vector's first instruction comes next). A MIPS gdb
//!   mostly steps with a breakpoint after the instruction and a continue
//!   of that thread alone (scheduler locking). Either way the other VMs
//!   run meanwhile as the scheduler decides (they share one CPU), and stop
//!   at breakpoints and watchpoints the debugger left inserted;
//! - Ctrl-C stops the machine, naming the VM on the CPU;
//! - a VM that ends while others run on stops the machine with SIGTRAP in
//!   its thread; `continue` goes on with the others. When the last VM
//!   ends, gdb hears that the program exited (with the run's exit status),
//!   or was killed (SIGSEGV) if a VM crashed.
//!
//! Determinism: the machine runs the same whatever the debugger does not
//! change (it only looks between clock ticks); with no breakpoint or
//! watchpoint set, `continue` runs whole slices. With several VMs their
//! console lines are written where the run without gdb writes them (see
//! [`output`]), so a run that only continues, or stops and goes on,
//! prints and counts exactly what a run without gdb does, with one VM or
//! several. With breakpoints or watchpoints set, the run goes one clock
//! tick at a time (slower, the same instructions).

mod access;
mod arch;
mod debugged;
mod host;
mod output;
mod stub;

use super::RunnerError;
use super::monitored::ConsoleMux;
use super::target::Stop;
use debugged::{Debugged, Ran};
use gdbstub::common::Tid;
use gdbstub::conn::{Connection, ConnectionExt};
use gdbstub::stub::{DisconnectReason, GdbStub, MultiThreadStopReason, run_blocking};
use gdbstub::target::Target;
pub use host::{Debuggee, Host};
use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;

/// What gdb is told when the guest stops.
pub type Reason = MultiThreadStopReason<u32>;

/// The thread of VM `vm`: `vm + 1` (thread ids start at 1).
fn tid_of(vm: usize) -> Tid {
    NonZeroUsize::MIN.saturating_add(vm)
}

/// The VM of thread `tid`.
fn vm_of(tid: Tid) -> usize {
    tid.get() - 1
}

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

/// The event loop that runs the guest between packets.
enum EventLoop {}

impl run_blocking::BlockingEventLoop for EventLoop {
    type Target = Debugged;
    type Connection = Box<dyn ConnectionExt<Error = io::Error>>;
    type StopReason = Reason;

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
        target: &mut Self::Target,
    ) -> Result<Option<Self::StopReason>, <Self::Target as Target>::Error> {
        Ok(Some(target.interrupted()))
    }
}

/// How the run without the debugger would go: what the session keeps to.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The run loop's slice, in clock ticks: with several VMs their
    /// output is written at its ends, as without the debugger.
    pub slice: u64,
    /// `--max-instructions`: every VM's instructions together.
    pub max_instructions: Option<u64>,
}

/// What a debugging session gives back.
pub struct Served {
    /// The machine or monitor.
    pub host: Host,
    /// How the guest ended, if it did (else the run goes on without the
    /// debugger).
    pub ended: Option<Stop>,
    /// The consoles as the session left them: VMs' unfinished lines are
    /// held there, for the rest of the run to go on with.
    pub console: ConsoleMux,
}

/// Runs `host` under a debugger on `addr` until the debugger detaches or
/// the guest ends.
pub fn serve(
    host: Host,
    addr: &GdbAddr,
    limits: Limits,
    stderr: &mut dyn Write,
) -> Result<Served, RunnerError> {
    writeln!(
        stderr,
        "demo-os: gdb: waiting for a debugger on {addr} (the guest is stopped at its first instruction)"
    )?;
    stderr.flush()?;
    let conn = accept(addr).map_err(|e| RunnerError::Usage(format!("--gdb {addr}: {e}")))?;
    writeln!(stderr, "demo-os: gdb: debugger connected")?;
    let mut target = Debugged::new(host, limits.slice, limits.max_instructions);
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
    Ok(Served {
        host: target.host,
        ended: target.ended,
        console: target.output.mux,
    })
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
