//! Validated integer distributions ([`IntCdf`]).

use core::borrow::Borrow;
use core::num::NonZeroU32;

use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel};

use super::CoderError;

/// Number of fractional bits of every probability (`PRECISION = 16`).
pub const PRECISION: usize = 16;

/// Sum of the frequencies of every [`IntCdf`]: `2^PRECISION = 65536`.
pub const TOTAL: u32 = 1 << PRECISION;

/// Largest supported alphabet size (symbols `0..=255`).
pub const MAX_SYMBOLS: usize = 256;

/// A validated integer distribution over the symbols `0..n`, `1 <= n <= 256`.
///
/// Invariants (upheld by every constructor):
/// * every symbol has an integer frequency `>= 1`;
/// * the frequencies sum to exactly [`TOTAL`] (`2^16`).
///
/// The probability of symbol `s` is `frequency(s) / 2^16`. Internally the
/// distribution is stored as its cumulative table `cdf[0..=n]` with
/// `cdf[0] = 0`, `cdf[n] = 2^16` and `cdf[s + 1] - cdf[s] = frequency(s)`.
///
/// `IntCdf` implements constriction's `EntropyModel<16>`, `EncoderModel<16>`
/// and `DecoderModel<16>` (symbol type `usize`, probability type `u32`)
/// directly, without any floating point.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IntCdf {
    /// `n + 1` strictly increasing entries from `0` to `TOTAL`.
    cdf: Vec<u32>,
}

impl IntCdf {
    /// Builds a distribution from arbitrary non-negative integer weights
    /// (`weights.len()` symbols). Symbol `s` gets a probability of roughly
    /// `weights[s] / sum(weights)`, but never less than `1 / 2^16`, so every
    /// symbol stays encodable (zero weights are fine). If all weights are
    /// zero the result is uniform (as if all weights were 1).
    ///
    /// # Algorithm (integer only, deterministic)
    ///
    /// With `n = weights.len()`, `W = sum(weights)` (as `u64`, no overflow for
    /// `n <= 256`) and `R = 2^16 - n`:
    /// 1. every symbol first receives one unit (so all frequencies are `>= 1`);
    /// 2. the remaining `R` units are split proportionally with
    ///    `q_s = floor(weights[s] * R / W)` (exact `u64` arithmetic); symbol
    ///    `s` gets `1 + q_s`;
    /// 3. the `k = R - sum(q_s)` units lost to rounding (`0 <= k < n`) go, one
    ///    each, to the `k` symbols with the largest rounding remainder
    ///    `weights[s] * R mod W` (largest remainder / Hamilton method); ties
    ///    are broken in favour of the smaller symbol index.
    ///
    /// The result therefore sums to exactly `2^16` and depends only on the
    /// weights. (When `W` is a power of two the divisions become shifts, so
    /// weight vectors with a power-of-two sum are converted faster; the
    /// result is the same.)
    ///
    /// # Errors
    ///
    /// [`CoderError::EmptyAlphabet`] if `weights` is empty,
    /// [`CoderError::TooManySymbols`] if it has more than [`MAX_SYMBOLS`]
    /// entries.
    pub fn from_weights(weights: &[u32]) -> Result<Self, CoderError> {
        let mut cdf = Self { cdf: Vec::new() };
        cdf.set_weights(weights)?;
        Ok(cdf)
    }

    /// Same as [`IntCdf::from_weights`], but reuses `self`'s allocation.
    /// Adaptive models that build a new distribution for every symbol should
    /// keep one `IntCdf` around and call this.
    ///
    /// On error `self` is left unchanged.
    pub fn set_weights(&mut self, weights: &[u32]) -> Result<(), CoderError> {
        let n = check_alphabet_size(weights.len())?;
        // n <= 256, so R >= 2^16 - 256 > 0 and every product below fits u64:
        // weight * R < 2^32 * 2^16 = 2^48, sum(weights) < 2^8 * 2^32 = 2^40.
        let r = u64::from(TOTAL) - n as u64;
        let mut total_weight: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let uniform = total_weight == 0;
        if uniform {
            total_weight = n as u64;
        }

        let mut freq = [0u32; MAX_SYMBOLS];
        let mut rem = [0u64; MAX_SYMBOLS];
        let mut assigned: u64 = 0;
        if total_weight.is_power_of_two() {
            // Same arithmetic without the (slow) 64-bit divisions.
            let shift = total_weight.trailing_zeros();
            let mask = total_weight - 1;
            for (s, &w) in weights.iter().enumerate() {
                let w = if uniform { 1 } else { u64::from(w) };
                let scaled = w * r;
                let q = scaled >> shift;
                freq[s] = 1 + q as u32;
                rem[s] = scaled & mask;
                assigned += q;
            }
        } else {
            for (s, &w) in weights.iter().enumerate() {
                let w = if uniform { 1 } else { u64::from(w) };
                let scaled = w * r;
                let q = scaled / total_weight;
                // q <= R < 2^16, so the cast is lossless.
                freq[s] = 1 + q as u32;
                rem[s] = scaled % total_weight;
                assigned += q;
            }
        }

        // 0 <= left < n (each floor loses less than one unit).
        let left = (r - assigned) as usize;
        if left > 0 {
            let mut order = [0u16; MAX_SYMBOLS];
            for (s, slot) in order.iter_mut().enumerate().take(n) {
                *slot = s as u16;
            }
            let order = &mut order[..n];
            // Largest remainder first; ties: smaller index first. Keys are
            // unique, so the unstable sort is deterministic.
            order.sort_unstable_by(|&a, &b| {
                rem[usize::from(b)]
                    .cmp(&rem[usize::from(a)])
                    .then(a.cmp(&b))
            });
            for &s in order.iter().take(left) {
                freq[usize::from(s)] += 1;
            }
        }

        self.fill_from_frequencies(&freq[..n]);
        debug_assert_eq!(self.cdf.last().copied(), Some(TOTAL));
        Ok(())
    }

    /// Builds a distribution from an explicit frequency table (e.g. a fixed
    /// table shipped with a model). Every frequency must be `>= 1` and they
    /// must sum to exactly [`TOTAL`].
    ///
    /// # Errors
    ///
    /// [`CoderError::EmptyAlphabet`], [`CoderError::TooManySymbols`],
    /// [`CoderError::ZeroFrequency`] or [`CoderError::BadFrequencySum`].
    pub fn from_frequencies(frequencies: &[u32]) -> Result<Self, CoderError> {
        check_alphabet_size(frequencies.len())?;
        if let Some(symbol) = frequencies.iter().position(|&f| f == 0) {
            return Err(CoderError::ZeroFrequency { symbol });
        }
        let sum: u64 = frequencies.iter().map(|&f| u64::from(f)).sum();
        if sum != u64::from(TOTAL) {
            return Err(CoderError::BadFrequencySum {
                sum,
                expected: TOTAL,
            });
        }
        let mut cdf = Self { cdf: Vec::new() };
        cdf.fill_from_frequencies(frequencies);
        Ok(cdf)
    }

    /// The uniform distribution over `num_symbols` symbols (as computed by
    /// [`IntCdf::from_weights`] with all weights equal).
    ///
    /// # Errors
    ///
    /// [`CoderError::EmptyAlphabet`] or [`CoderError::TooManySymbols`].
    pub fn uniform(num_symbols: usize) -> Result<Self, CoderError> {
        check_alphabet_size(num_symbols)?;
        Self::from_weights(&[1u32; MAX_SYMBOLS][..num_symbols])
    }

    /// Caller guarantees: `1 <= frequencies.len() <= MAX_SYMBOLS`, each entry
    /// `>= 1`, sum `== TOTAL`.
    fn fill_from_frequencies(&mut self, frequencies: &[u32]) {
        self.cdf.clear();
        self.cdf.reserve(frequencies.len() + 1);
        let mut acc = 0u32;
        self.cdf.push(0);
        for &f in frequencies {
            acc += f;
            self.cdf.push(acc);
        }
    }

    /// Alphabet size `n` (symbols are `0..n`).
    pub fn num_symbols(&self) -> usize {
        self.cdf.len().saturating_sub(1)
    }

    /// Frequency of `symbol` (its probability times `2^16`), or `None` if
    /// `symbol >= num_symbols()`.
    pub fn frequency(&self, symbol: usize) -> Option<u32> {
        let left = *self.cdf.get(symbol)?;
        let right = *self.cdf.get(symbol.checked_add(1)?)?;
        Some(right - left)
    }

    /// Iterator over all frequencies, in symbol order.
    pub fn frequencies(&self) -> impl Iterator<Item = u32> + '_ {
        self.cdf.windows(2).map(|w| w[1] - w[0])
    }

    /// The cumulative table: `num_symbols() + 1` strictly increasing entries,
    /// `cdf()[0] == 0`, `cdf()[n] == TOTAL`.
    pub fn cdf(&self) -> &[u32] {
        &self.cdf
    }
}

fn check_alphabet_size(n: usize) -> Result<usize, CoderError> {
    if n == 0 {
        Err(CoderError::EmptyAlphabet)
    } else if n > MAX_SYMBOLS {
        Err(CoderError::TooManySymbols {
            num_symbols: n,
            max: MAX_SYMBOLS,
        })
    } else {
        Ok(n)
    }
}

impl EntropyModel<PRECISION> for IntCdf {
    type Symbol = usize;
    type Probability = u32;
}

impl EncoderModel<PRECISION> for IntCdf {
    #[inline]
    fn left_cumulative_and_probability(
        &self,
        symbol: impl Borrow<usize>,
    ) -> Option<(u32, NonZeroU32)> {
        let s = *symbol.borrow();
        let left = *self.cdf.get(s)?;
        let right = *self.cdf.get(s.checked_add(1)?)?;
        NonZeroU32::new(right.wrapping_sub(left)).map(|p| (left, p))
    }
}

impl DecoderModel<PRECISION> for IntCdf {
    #[inline]
    fn quantile_function(&self, quantile: u32) -> (usize, u32, NonZeroU32) {
        // Interior boundaries cdf[1..n]; the answer is the number of them
        // that are <= quantile. constriction guarantees quantile < TOTAL; if
        // it did not, the last symbol is returned (no panic).
        let n = self.num_symbols();
        let interior = self.cdf.get(1..n).unwrap_or(&[]);
        let s = if interior.len() <= 8 {
            interior.iter().take_while(|&&c| c <= quantile).count()
        } else {
            interior.partition_point(|&c| c <= quantile)
        };
        let left = self.cdf.get(s).copied().unwrap_or(0);
        let right = self.cdf.get(s + 1).copied().unwrap_or(TOTAL);
        let prob = NonZeroU32::new(right.wrapping_sub(left)).unwrap_or(NonZeroU32::MIN);
        (s, left, prob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn freqs(c: &IntCdf) -> Vec<u32> {
        c.frequencies().collect()
    }

    #[test]
    fn uniform_and_small() {
        assert_eq!(freqs(&IntCdf::uniform(1).unwrap()), vec![TOTAL]);
        assert_eq!(freqs(&IntCdf::uniform(2).unwrap()), vec![32768, 32768]);
        // 65533 = 3 * 21844 + 1: the first symbol wins the tie.
        assert_eq!(
            freqs(&IntCdf::uniform(3).unwrap()),
            vec![21846, 21845, 21845]
        );
        assert_eq!(freqs(&IntCdf::uniform(256).unwrap()), vec![256; 256]);
        assert_eq!(IntCdf::uniform(0), Err(CoderError::EmptyAlphabet));
        assert!(matches!(
            IntCdf::uniform(257),
            Err(CoderError::TooManySymbols { .. })
        ));
    }

    #[test]
    fn zero_and_skewed_weights() {
        let c = IntCdf::from_weights(&[0, 0, 0]).unwrap();
        assert_eq!(c, IntCdf::uniform(3).unwrap());
        let c = IntCdf::from_weights(&[0, u32::MAX, 0]).unwrap();
        assert_eq!(freqs(&c), vec![1, TOTAL - 2, 1]);
        let c = IntCdf::from_weights(&[u32::MAX; 256]).unwrap();
        assert_eq!(freqs(&c), vec![256; 256]);
        let c = IntCdf::from_weights(&[1, 2]).unwrap();
        // R = 65534: 1/3 -> 21844.67, 2/3 -> 43689.33 => +1 goes to symbol 0.
        assert_eq!(freqs(&c), vec![21846, 43690]);
    }

    #[test]
    fn explicit_frequencies() {
        assert!(IntCdf::from_frequencies(&[TOTAL]).is_ok());
        assert_eq!(
            IntCdf::from_frequencies(&[TOTAL, 0]),
            Err(CoderError::ZeroFrequency { symbol: 1 })
        );
        assert_eq!(
            IntCdf::from_frequencies(&[1, 1]),
            Err(CoderError::BadFrequencySum {
                sum: 2,
                expected: TOTAL
            })
        );
        assert_eq!(
            IntCdf::from_frequencies(&[u32::MAX, u32::MAX]),
            Err(CoderError::BadFrequencySum {
                sum: 2 * u64::from(u32::MAX),
                expected: TOTAL
            })
        );
    }

    #[test]
    fn set_weights_error_leaves_model_unchanged() {
        let mut c = IntCdf::from_weights(&[1, 2, 3]).unwrap();
        let before = c.clone();
        assert!(c.set_weights(&[]).is_err());
        assert_eq!(c, before);
    }

    #[test]
    fn quantile_function_is_inverse() {
        let c = IntCdf::from_weights(&[5, 0, 9, 1, 1, 1, 1, 1, 1, 1, 30, 2]).unwrap();
        for q in (0..TOTAL).step_by(7).chain([TOTAL - 1]) {
            let (s, left, p) = c.quantile_function(q);
            assert!(left <= q && q < left + p.get());
            assert_eq!(c.left_cumulative_and_probability(s), Some((left, p)));
        }
        assert_eq!(c.left_cumulative_and_probability(12usize), None);
        assert_eq!(c.left_cumulative_and_probability(usize::MAX), None);
    }
}
