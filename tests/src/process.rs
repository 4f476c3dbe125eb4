//! Running the runner binary from a test: arguments in, exit status and
//! captured output back, with a wall-clock limit so a hung guest fails the
//! test instead of hanging it.
//!
//! Cargo only exposes a binary's path (`CARGO_BIN_EXE_<name>`) to the
//! integration tests of the package that owns it, so the runner's
//! end-to-end tests live in `demo-os/tests/` and pass that path here.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a finished process left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    /// The exit code; `None` if a signal ended it.
    pub code: Option<i32>,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr (lossily decoded).
    pub stderr: String,
}

impl RunOutput {
    /// stdout, lossily decoded.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `program` with `args` and no stdin, killing it (and panicking) if
/// it has not exited within `limit`.
pub fn run_with_limit<S: AsRef<OsStr>>(program: &Path, args: &[S], limit: Duration) -> RunOutput {
    run_with_input(program, args, None, limit)
}

/// Like [`run_with_limit`], with `input` (when given) written to the
/// process's stdin through a pipe, which is then closed (end of file).
pub fn run_with_input<S: AsRef<OsStr>>(
    program: &Path,
    args: &[S],
    input: Option<&[u8]>,
    limit: Duration,
) -> RunOutput {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    // A thread writes the input, so that a child that does not read it all
    // cannot block the test; a child that exits early breaks the pipe,
    // which is not an error here.
    let writer = child.stdin.take().map(|mut stdin| {
        let input = input.unwrap_or_default().to_vec();
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        })
    });
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut err = child.stderr.take().expect("stderr is piped");
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} {:?} still running after {limit:?}",
                program.display(),
                args.iter().map(|a| a.as_ref()).collect::<Vec<_>>()
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    if let Some(writer) = writer {
        writer.join().expect("stdin writer");
    }
    RunOutput {
        code: status.code(),
        stdout: out_reader.join().expect("stdout reader"),
        stderr: String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned(),
    }
}

/// Writes `bytes` to `dir/name` (creating `dir`) and returns the path.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_status_and_output() {
        let out = run_with_limit(
            Path::new("/bin/sh"),
            &["-c", "printf out; printf err >&2; exit 3"],
            Duration::from_secs(30),
        );
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout_text(), "out");
        assert_eq!(out.stderr, "err");
    }

    #[test]
    fn feeds_stdin() {
        let out = run_with_input(
            Path::new("/bin/sh"),
            &["-c", "read a; read b; echo \"$b $a\"; cat"],
            Some(b"one\ntwo\nrest\n"),
            Duration::from_secs(30),
        );
        assert_eq!(out.code, Some(0));
        assert_eq!(out.stdout_text(), "two one\nrest\n");
    }

    #[test]
    #[should_panic(expected = "still running")]
    fn kills_a_hung_process() {
        run_with_limit(
            Path::new("/bin/sh"),
            &["-c", "exec sleep 30"],
            Duration::from_millis(100),
        );
    }
}
