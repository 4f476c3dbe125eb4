//! The chatty one: prints `work` × [`LINES`] lines, each assembled from
//! many small `write` calls (one per word, per separator and for the number),
//! yielding between lines. The kernel emits a process's output line by
//! line, so its lines stay whole. Console output is this program's work,
//! so it prints every line at every work scale. Its result is the number
//! of bytes it wrote.
#![no_std]
#![no_main]

use demo_rt::{println, write_all, yield_now};

/// The number of lines at work scale 1.
const LINES: usize = 12;

/// The words the lines are made of.
const WORDS: [&str; 8] = [
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dogs",
];

demo_rt::entry!(main);

fn main(work: u32) -> i32 {
    let mut bytes = 0usize;
    let mut writes = 0usize;
    for line in 0..LINES * work as usize {
        let mut put = |piece: &[u8]| {
            if write_all(piece).is_ok() {
                bytes += piece.len();
            }
            writes += 1;
        };
        put(b"chatty:");
        // Rotate the words so every line differs.
        for i in 0..WORDS.len() {
            put(b" ");
            put(WORDS[(line + i) % WORDS.len()].as_bytes());
        }
        put(b" #");
        // The line number, at least two digits, in one write.
        let (digits, len) = decimal(line);
        put(&digits[digits.len() - len.max(2)..]);
        put(b"\n");
        yield_now();
    }
    println!("chatty: {writes} writes, {bytes} bytes");
    bytes as i32
}

/// `n` in decimal, right-aligned and zero-padded in a 10-byte buffer, and
/// the number of its significant digits.
fn decimal(mut n: usize) -> ([u8; 10], usize) {
    let mut digits = [b'0'; 10];
    let mut len = 0;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
        if n == 0 {
            break;
        }
    }
    (digits, len)
}
