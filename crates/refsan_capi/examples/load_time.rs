//! Measures how long the knowledge base takes to load.
//!
//! `cargo run --release -p refsan_capi --example load_time [ITERATIONS]`
//! prints the first `KnowledgeBase::builtin()` call, then the median and
//! minimum of repeated `from_toml_str` parses of the same embedded data, and
//! the cost of a lookup.

use std::time::{Duration, Instant};

use refsan_capi::KnowledgeBase;

const DATA: &str = include_str!("../data/capi.toml");

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(50);

    let start = Instant::now();
    let kb = KnowledgeBase::builtin();
    let first = start.elapsed();
    println!(
        "builtin(): {} entries, {} bytes, first call {:.2} ms",
        kb.len(),
        DATA.len(),
        ms(first)
    );

    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        match KnowledgeBase::from_toml_str(DATA) {
            Ok(parsed) => assert_eq!(parsed.len(), kb.len()),
            Err(error) => {
                eprintln!("embedded data does not parse: {error}");
                std::process::exit(1);
            }
        }
        times.push(start.elapsed());
    }
    times.sort();
    if let (Some(min), Some(median)) = (times.first(), times.get(times.len() / 2)) {
        println!(
            "from_toml_str x{iterations}: median {:.2} ms, min {:.2} ms",
            ms(*median),
            ms(*min)
        );
    }

    let names: Vec<&str> = kb.iter().map(|e| e.name.as_str()).collect();
    let rounds = 200;
    let start = Instant::now();
    let mut found = 0usize;
    for _ in 0..rounds {
        for name in &names {
            found += usize::from(kb.get(std::hint::black_box(name)).is_some());
        }
    }
    let per_lookup = start.elapsed().as_nanos() as f64 / found.max(1) as f64;
    println!("get(): {per_lookup:.0} ns per lookup ({found} lookups)");
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
