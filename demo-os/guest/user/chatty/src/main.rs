//! The chatty one: prints [`LINES`] lines, each assembled from many small
//! `write` calls (one per word and one per separator), yielding between
//! lines. The kernel emits a process's output line by line, so its lines
//! stay whole. Its result is the number of bytes it wrote.
#![no_std]
#![no_main]

use demo_rt::{println, write_all, yield_now};

/// The number of lines.
const LINES: usize = 12;

/// The words the lines are made of.
const WORDS: [&str; 8] = [
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dogs",
];

demo_rt::entry!(main);

fn main() -> i32 {
    let mut bytes = 0usize;
    let mut writes = 0usize;
    for line in 0..LINES {
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
        put(&[b'0' + (line / 10) as u8, b'0' + (line % 10) as u8]);
        put(b"\n");
        yield_now();
    }
    println!("chatty: {writes} writes, {bytes} bytes");
    bytes as i32
}
