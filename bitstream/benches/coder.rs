//! Throughput of the entropy coder (no criterion; `harness = false`).
//!
//! `cargo bench -p cvq-bitstream` prints encode / decode throughput for 1M
//! symbols with L = 3, 5, 7 levels:
//! * `fixed`: one precomputed `IntCdf` per run (parallel / factorised model);
//! * `adaptive`: a fresh distribution for every symbol via
//!   `IntCdf::set_weights` from context-dependent weights (what an adaptive /
//!   autoregressive model does), both when encoding and decoding;
//! * `adaptive+alloc`: same, but with `IntCdf::from_weights` (one allocation
//!   per symbol).

use std::hint::black_box;
use std::time::{Duration, Instant};

use cvq_bitstream::coder::{IntCdf, SymbolDecoder, SymbolEncoder, TOTAL};

const N: usize = 1_000_000;
const REPEATS: usize = 3;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Peaked weights around the middle level (like a quantized latent).
fn base_weights(levels: usize) -> Vec<u32> {
    (0..levels)
        .map(|s| 4096u32 >> (2 * s.abs_diff(levels / 2)).min(31))
        .collect()
}

/// Context-dependent weights: favour the previous symbol.
fn context_weights(base: &[u32], prev: usize, out: &mut [u32]) {
    for (s, (o, &b)) in out.iter_mut().zip(base).enumerate() {
        *o = if s == prev { b * 3 + 64 } else { b };
    }
}

fn sample(cdf: &IntCdf, rng: &mut Rng) -> usize {
    let q = (rng.next() % u64::from(TOTAL)) as u32;
    cdf.cdf()[1..].iter().take_while(|&&c| c <= q).count()
}

fn best<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..REPEATS {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed());
        out = Some(r);
    }
    (best, out.expect("REPEATS > 0"))
}

fn msym(d: Duration) -> f64 {
    N as f64 / d.as_secs_f64() / 1e6
}

fn main() {
    println!(
        "{:<16} {:>3} {:>13} {:>13} {:>11}",
        "model", "L", "enc Msym/s", "dec Msym/s", "bits/sym"
    );
    for levels in [3usize, 5, 7] {
        let base = base_weights(levels);
        let fixed = IntCdf::from_weights(&base).unwrap();
        let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ levels as u64);
        let symbols: Vec<usize> = (0..N).map(|_| sample(&fixed, &mut rng)).collect();

        // Fixed CDF.
        let (enc_t, bytes) = best(|| {
            let mut enc = SymbolEncoder::new();
            for &s in &symbols {
                enc.encode(s, &fixed).unwrap();
            }
            enc.finish()
        });
        let (dec_t, out) = best(|| {
            let mut dec = SymbolDecoder::new(&bytes);
            (0..N)
                .map(|_| dec.decode(&fixed).unwrap())
                .collect::<Vec<_>>()
        });
        assert_eq!(out, symbols);
        row("fixed", levels, enc_t, dec_t, bytes.len());

        // Adaptive, reusing one IntCdf.
        let (enc_t, bytes) = best(|| {
            let mut enc = SymbolEncoder::new();
            let mut cdf = fixed.clone();
            let mut w = base.clone();
            let mut prev = levels / 2;
            for &s in &symbols {
                context_weights(&base, prev, &mut w);
                cdf.set_weights(black_box(&w)).unwrap();
                enc.encode(s, &cdf).unwrap();
                prev = s;
            }
            enc.finish()
        });
        let (dec_t, out) = best(|| {
            let mut dec = SymbolDecoder::new(&bytes);
            let mut cdf = fixed.clone();
            let mut w = base.clone();
            let mut prev = levels / 2;
            let mut out = Vec::with_capacity(N);
            for _ in 0..N {
                context_weights(&base, prev, &mut w);
                cdf.set_weights(black_box(&w)).unwrap();
                prev = dec.decode(&cdf).unwrap();
                out.push(prev);
            }
            out
        });
        assert_eq!(out, symbols);
        row("adaptive", levels, enc_t, dec_t, bytes.len());

        // Adaptive, allocating a new IntCdf per symbol.
        let (enc_t, bytes) = best(|| {
            let mut enc = SymbolEncoder::new();
            let mut w = base.clone();
            let mut prev = levels / 2;
            for &s in &symbols {
                context_weights(&base, prev, &mut w);
                let cdf = IntCdf::from_weights(black_box(&w)).unwrap();
                enc.encode(s, &cdf).unwrap();
                prev = s;
            }
            enc.finish()
        });
        let (dec_t, out) = best(|| {
            let mut dec = SymbolDecoder::new(&bytes);
            let mut w = base.clone();
            let mut prev = levels / 2;
            let mut out = Vec::with_capacity(N);
            for _ in 0..N {
                context_weights(&base, prev, &mut w);
                let cdf = IntCdf::from_weights(black_box(&w)).unwrap();
                prev = dec.decode(&cdf).unwrap();
                out.push(prev);
            }
            out
        });
        assert_eq!(out, symbols);
        row("adaptive+alloc", levels, enc_t, dec_t, bytes.len());
    }
}

fn row(name: &str, levels: usize, enc: Duration, dec: Duration, bytes: usize) {
    println!(
        "{:<16} {:>3} {:>13.1} {:>13.1} {:>11.3}",
        name,
        levels,
        msym(enc),
        msym(dec),
        bytes as f64 * 8.0 / N as f64
    );
}
