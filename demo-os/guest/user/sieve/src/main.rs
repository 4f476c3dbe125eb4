//! The compute job: counts the primes below [`LIMIT`] with the sieve of
//! Eratosthenes over a byte table in `.bss`, then checks the count against
//! the known value. Its result (exit status) is the number of primes.
#![no_std]
#![no_main]

use demo_rt::println;

/// The sieve's bound (exclusive).
const LIMIT: usize = 30_000;

/// The number of primes below [`LIMIT`].
const EXPECTED: u32 = 3245;

/// `COMPOSITE[n]` is 1 once `n` is known to be composite.
static mut COMPOSITE: [u8; LIMIT] = [0; LIMIT];

demo_rt::entry!(main);

fn main() -> i32 {
    // SAFETY: the program is single-threaded and this is the only
    // reference to the table ever made.
    let Some(composite) = (unsafe { (&raw mut COMPOSITE).as_mut() }) else {
        return -1;
    };
    let mut count = 0u32;
    let mut largest = 0usize;
    let mut checksum = 0u32;
    for n in 2..LIMIT {
        if composite[n] != 0 {
            continue;
        }
        count += 1;
        largest = n;
        checksum = checksum.wrapping_mul(31).wrapping_add(n as u32);
        let mut multiple = n * n;
        while multiple < LIMIT {
            composite[multiple] = 1;
            multiple += n;
        }
    }
    println!("sieve: {count} primes below {LIMIT}, largest {largest}, checksum {checksum:#010x}");
    if count == EXPECTED {
        count as i32
    } else {
        println!("sieve: expected {EXPECTED} primes");
        -1
    }
}
