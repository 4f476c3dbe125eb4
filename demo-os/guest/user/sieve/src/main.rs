//! The compute job: counts the primes below `work` × [`LIMIT`] with the
//! sieve of Eratosthenes, one [`LIMIT`]-wide segment at a time over a byte
//! table in `.bss`, and checks the first segment's count against the known
//! value. Its result (exit status) is the number of primes.
//!
//! The first segment is the plain sieve; it also yields the base primes
//! (those up to the square root of the bound) that later segments are
//! sieved with, kept in a heap buffer (`sbrk`) while they run.
#![no_std]
#![no_main]

use demo_rt::{println, sbrk};

/// The width of a segment, and the sieve's bound at work scale 1
/// (exclusive).
const LIMIT: usize = 30_000;

/// The number of primes below [`LIMIT`].
const EXPECTED: u32 = 3245;

/// `COMPOSITE[n - lo]` is 1 once `n` is known to be composite, for the
/// segment `lo..lo + LIMIT` being sieved.
static mut COMPOSITE: [u8; LIMIT] = [0; LIMIT];

// The largest bound, LIMIT × WORK_MAX, and its products stay in range.
const _: () = assert!(LIMIT.checked_mul(demo_rt::WORK_MAX as usize + 1).is_some());

demo_rt::entry!(main);

/// What the sieve found so far.
struct Tally {
    count: u32,
    largest: usize,
    checksum: u32,
}

impl Tally {
    /// Counts the prime `n`.
    fn prime(&mut self, n: usize) {
        self.count += 1;
        self.largest = n;
        self.checksum = self.checksum.wrapping_mul(31).wrapping_add(n as u32);
    }
}

fn main(work: u32) -> i32 {
    // SAFETY: the program is single-threaded and this is the only
    // reference to the table ever made.
    let Some(composite) = (unsafe { (&raw mut COMPOSITE).as_mut() }) else {
        return -1;
    };
    let bound = LIMIT * work as usize;
    let mut tally = Tally {
        count: 0,
        largest: 0,
        checksum: 0,
    };
    for n in 2..LIMIT {
        if composite[n] != 0 {
            continue;
        }
        tally.prime(n);
        let mut multiple = n * n;
        while multiple < LIMIT {
            composite[multiple] = 1;
            multiple += n;
        }
    }
    if tally.count != EXPECTED {
        println!("sieve: expected {EXPECTED} primes below {LIMIT}");
        return -1;
    }
    if work > 1
        && let Err(message) = sieve_segments(composite, bound, &mut tally)
    {
        println!("sieve: failed: {message}");
        return -1;
    }
    println!(
        "sieve: {} primes below {bound}, largest {}, checksum {:#010x}",
        tally.count, tally.largest, tally.checksum
    );
    tally.count as i32
}

/// Sieves the segments after the first, up to `bound`, into `tally`;
/// `composite` holds the first segment's table on entry.
fn sieve_segments(
    composite: &mut [u8],
    bound: usize,
    tally: &mut Tally,
) -> Result<(), &'static str> {
    // The base primes: every prime p with p² < bound, all in the first
    // segment (bound ≤ LIMIT², as LIMIT ≥ WORK_MAX).
    let base_count = (2..LIMIT)
        .take_while(|&n| n * n < bound)
        .filter(|&n| composite[n] == 0)
        .count();
    let bytes = (base_count * 4) as i32;
    let heap = sbrk(bytes).map_err(|_| "sbrk could not grow the heap")? as *mut u32;
    // SAFETY: the kernel just gave us `bytes` bytes at `heap`, page-aligned
    // (the heap starts on a page and this is the only allocation); nothing
    // else refers to them until the heap shrinks below.
    let base = unsafe { core::slice::from_raw_parts_mut(heap, base_count) };
    let primes = (2..LIMIT).filter(|&n| composite[n] == 0);
    for (slot, p) in base.iter_mut().zip(primes) {
        *slot = p as u32;
    }
    for lo in (LIMIT..bound).step_by(LIMIT) {
        let hi = lo + LIMIT;
        composite.fill(0);
        for &p in base.iter() {
            let p = p as usize;
            let mut multiple = (p * p).max(lo.div_ceil(p) * p);
            while multiple < hi {
                composite[multiple - lo] = 1;
                multiple += p;
            }
        }
        for (i, _) in composite.iter().enumerate().filter(|(_, c)| **c == 0) {
            tally.prime(lo + i);
        }
    }
    sbrk(-bytes).map_err(|_| "sbrk could not shrink the heap")?;
    Ok(())
}
