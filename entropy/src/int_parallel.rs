//! The parallel-decodable integer entropy model of one channel group.
//!
//! A group of `c` channels on an `h × w` latent grid with `L` levels is conditioned on
//! the `P` channels of the already decoded, more important groups ("prior", absent for
//! the most important group) and on a checkerboard inside the group: positions with
//! `(y + x)` even are *anchors*, coded first given the prior only; the other half is
//! coded second, given the prior and the anchors. Network (float twin:
//! `cvq_core::model::parallel::ParallelContextModel`):
//!
//! ```text
//! f = prior3×3(prev)  [+ context3×3(anchor values) at non-anchors]   (F)
//! logits = out1×1(relu(hidden1×1(relu(f))))                           (c·L, index ch·L + l)
//! ```
//!
//! A **variable-rate** model (one model for several rate points) adds a learned bias
//! `r_k` (`F` values, Q12) for the rate point `k` the file was coded at to `f` at every
//! position: `f = prior3×3(prev) + r_k [+ context …]`. The model stores all `K` biases;
//! [`IntParallelGroupModel::with_rate`] selects one.
//!
//! The stream of a group is: anchors in raster order `(y, x)`, channels innermost, then
//! the non-anchors in the same order. Each half needs one evaluation per position and
//! no symbol of the same half, so every position of a half can be evaluated in parallel.

use cvq_bitstream::coder::{IntCdf, MAX_SYMBOLS};

use crate::EntropyError;
use crate::conv2d::IntConv2d;
use crate::fixed::{ACT_MAX, ExpTable, add_act};
use crate::reader::Reader;

/// Largest `h·w·max(F, P, c·L)` of one group (bounds working memory).
pub const MAX_PARALLEL_WORK: usize = 1 << 26;

/// Whether `(y, x)` is an anchor of the checkerboard (coded in the first pass).
#[inline]
pub fn is_anchor(y: usize, x: usize) -> bool {
    (y + x).is_multiple_of(2)
}

/// Integer model of one group (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntParallelGroupModel {
    levels: usize,
    channels: usize,
    prior_channels: usize,
    features: usize,
    prior: Option<IntConv2d>,
    context: IntConv2d,
    hidden: IntConv2d,
    out: IntConv2d,
    level_values: Vec<i32>,
    /// `K × F` rate biases (Q12), rate point `k` at `k·F..(k+1)·F`; empty for a
    /// fixed-rate model.
    rate_biases: Vec<i32>,
    /// The rate point whose bias [`IntParallelGroupModel::code`] adds.
    rate: Option<usize>,
    exp: ExpTable,
}

/// Rows of a group whose distributions [`IntParallelGroupModel::code_on`] computes
/// together before coding them (bounds the buffer: `16 · w · c · L` values).
pub const BAND_ROWS: usize = 16;

/// Fewest positions worth a thread of their own in [`IntParallelGroupModel::code_on`].
const MIN_POSITIONS_PER_THREAD: usize = 256;

/// Most rate points of a variable-rate model.
pub const MAX_RATE_POINTS: usize = 64;

/// The four layers of an [`IntParallelGroupModel`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParallelLayers {
    /// 3×3, `P → F`; `None` iff `P = 0`.
    pub prior: Option<IntConv2d>,
    /// 3×3, `c → F`, applied to the anchor values.
    pub context: IntConv2d,
    /// 1×1, `F → F`.
    pub hidden: IntConv2d,
    /// 1×1, `F → c·L`.
    pub out: IntConv2d,
}

impl IntParallelGroupModel {
    /// Assembles and validates a group model: `level_values` are the Q12 means of
    /// this group's `L` levels.
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidModel`] when shapes or ranges are wrong.
    pub fn new(
        levels: usize,
        channels: usize,
        prior_channels: usize,
        layers: ParallelLayers,
        level_values: Vec<i32>,
    ) -> Result<Self, EntropyError> {
        let bad = |m: &str| Err(EntropyError::InvalidModel(m.to_string()));
        if !(2..=MAX_SYMBOLS).contains(&levels) {
            return bad("levels must be in 2..=256");
        }
        let features = layers.hidden.c_in();
        let ParallelLayers {
            prior,
            context,
            hidden,
            out,
        } = layers;
        let prior_ok = match &prior {
            None => prior_channels == 0,
            Some(p) => p.kernel() == 3 && p.c_in() == prior_channels && p.c_out() == features,
        };
        if !prior_ok
            || (context.kernel(), context.c_in(), context.c_out()) != (3, channels, features)
            || (hidden.kernel(), hidden.c_out()) != (1, features)
            || (out.kernel(), out.c_in()) != (1, features)
            || Some(out.c_out()) != channels.checked_mul(levels)
        {
            return bad(
                "layer shapes do not match prior 3×3 P→F, context 3×3 c→F, 1×1 F→F, 1×1 F→c·L",
            );
        }
        if level_values.len() != levels || level_values.iter().any(|v| v.abs() > ACT_MAX) {
            return bad("level_values must be L values within ±2^26");
        }
        Ok(Self {
            levels,
            channels,
            prior_channels,
            features,
            prior,
            context,
            hidden,
            out,
            level_values,
            rate_biases: Vec::new(),
            rate: None,
            exp: ExpTable::new(),
        })
    }

    /// Makes the model variable-rate: `rate_biases` holds `K` bias vectors of `F` Q12
    /// values (rate point `k` at `k·F..(k+1)·F`), `1 ≤ K ≤ 64`. No rate is selected yet.
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidModel`] when the length is not a multiple of `F` in
    /// `F..=64·F`, or a value is beyond ±2^26.
    pub fn with_rate_biases(mut self, rate_biases: Vec<i32>) -> Result<Self, EntropyError> {
        let f = self.features;
        if rate_biases.is_empty()
            || !rate_biases.len().is_multiple_of(f)
            || rate_biases.len() / f > MAX_RATE_POINTS
            || rate_biases.iter().any(|v| v.abs() > ACT_MAX)
        {
            return Err(EntropyError::InvalidModel(format!(
                "rate biases must be 1..={MAX_RATE_POINTS} vectors of {f} values within ±2^26"
            )));
        }
        self.rate_biases = rate_biases;
        self.rate = None;
        Ok(self)
    }

    /// Rate points `K` of a variable-rate model (0 for a fixed-rate model).
    pub fn rate_points(&self) -> usize {
        self.rate_biases.len() / self.features
    }

    /// The model with rate point `rate` (`0..K`) selected.
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidModel`] if the model has no such rate point.
    pub fn with_rate(&self, rate: usize) -> Result<Self, EntropyError> {
        if rate >= self.rate_points() {
            return Err(EntropyError::InvalidModel(format!(
                "rate point {rate} of a model with {} rate points",
                self.rate_points()
            )));
        }
        Ok(Self {
            rate: Some(rate),
            ..self.clone()
        })
    }

    /// The selected rate point, if any.
    pub fn rate(&self) -> Option<usize> {
        self.rate
    }

    /// Number of levels `L`.
    pub fn levels(&self) -> usize {
        self.levels
    }
    /// Channels `c` of the group.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// Channels `P` of the more important groups it is conditioned on.
    pub fn prior_channels(&self) -> usize {
        self.prior_channels
    }
    /// Hidden width `F`.
    pub fn features(&self) -> usize {
        self.features
    }
    /// Q12 level means.
    pub fn level_values(&self) -> &[i32] {
        &self.level_values
    }

    /// Checks the working size of an `h × w` group.
    pub(crate) fn check_size(&self, h: usize, w: usize) -> Result<usize, EntropyError> {
        let too_large = EntropyError::TooLarge {
            c: self.channels,
            h,
            w,
        };
        let widest = self
            .features
            .max(self.prior_channels)
            .max(self.channels * self.levels);
        let hw = h.checked_mul(w).ok_or(too_large.clone())?;
        match hw.checked_mul(widest) {
            Some(work) if work <= MAX_PARALLEL_WORK && hw > 0 => Ok(hw),
            _ => Err(too_large),
        }
    }

    /// Runs the two passes over one `h × w` group. `prior` holds the Q12 values of the
    /// more important groups, channel-last `[h][w][P]`. For every symbol in stream
    /// order, `symbol(index, cdf)` returns its value (the encoder's known symbol, the
    /// decoder's decoded one, or a guess); `index` is its raster position `ch·h·w +
    /// y·w + x`. Returns the symbols `[c][h][w]`.
    ///
    /// # Errors
    ///
    /// [`EntropyError::TooLarge`], a wrong `prior` length, an out-of-range symbol, or
    /// whatever `symbol` returns.
    pub fn code<F>(
        &self,
        prior: &[i32],
        h: usize,
        w: usize,
        symbol: F,
    ) -> Result<Vec<usize>, EntropyError>
    where
        F: FnMut(usize, &IntCdf) -> Result<usize, EntropyError>,
    {
        self.code_on(prior, h, w, 1, symbol)
    }

    /// As [`Self::code`], computing the distributions of each band of
    /// [`BAND_ROWS`] rows on `threads` threads (1, and always on WebAssembly: on the
    /// calling thread, none spawned)
    /// before coding its symbols in order: the distributions depend only on `prior` and,
    /// in the second pass, on the anchors, never on the symbols of the same pass, so the
    /// symbols and the bytes do not depend on `threads`.
    ///
    /// # Errors
    ///
    /// As [`Self::code`].
    pub fn code_on<F>(
        &self,
        prior: &[i32],
        h: usize,
        w: usize,
        threads: usize,
        mut symbol: F,
    ) -> Result<Vec<usize>, EntropyError>
    where
        F: FnMut(usize, &IntCdf) -> Result<usize, EntropyError>,
    {
        let hw = self.check_size(h, w)?;
        let (c, l) = (self.channels, self.levels);
        if prior.len() != hw * self.prior_channels {
            return Err(EntropyError::LengthMismatch {
                expected: hw * self.prior_channels,
                got: prior.len(),
            });
        }
        if self.rate_points() > 0 && self.rate.is_none() {
            return Err(EntropyError::InvalidModel(
                "a variable-rate model codes at a selected rate point".into(),
            ));
        }
        let mut anchors = vec![0i32; hw * c];
        let mut symbols = vec![0usize; hw * c];
        let mut weights = vec![0u32; l];
        let mut cdf = IntCdf::uniform(l)?;
        let mut logits: Vec<i32> = Vec::new();
        for anchor_pass in [true, false] {
            for band in (0..h).step_by(BAND_ROWS) {
                let positions: Vec<(usize, usize)> = (band..(band + BAND_ROWS).min(h))
                    .flat_map(|y| (0..w).map(move |x| (y, x)))
                    .filter(|&(y, x)| is_anchor(y, x) == anchor_pass)
                    .collect();
                logits.resize(positions.len() * c * l, 0);
                self.band_logits(
                    prior,
                    &anchors,
                    (h, w),
                    &positions,
                    anchor_pass,
                    threads,
                    &mut logits,
                );
                for (&(y, x), lg) in positions.iter().zip(logits.chunks_exact(c * l)) {
                    for (ch, lg) in lg.chunks_exact(l).enumerate() {
                        let max = lg.iter().copied().max().unwrap_or(0);
                        for (wt, &v) in weights.iter_mut().zip(lg) {
                            *wt = self.exp.weight(i64::from(max) - i64::from(v));
                        }
                        cdf.set_weights(&weights)?;
                        let index = ch * hw + y * w + x;
                        let s = symbol(index, &cdf)?;
                        if s >= l {
                            return Err(EntropyError::SymbolOutOfRange {
                                position: index,
                                symbol: s,
                                levels: l,
                            });
                        }
                        symbols[index] = s;
                        if anchor_pass {
                            anchors[(y * w + x) * c + ch] = self.level_values[s];
                        }
                    }
                }
            }
        }
        Ok(symbols)
    }

    /// The logits `[position][c·L]` of `positions` (all of one pass) into `out`, split
    /// among `threads` threads in contiguous runs.
    #[allow(clippy::too_many_arguments)]
    fn band_logits(
        &self,
        prior: &[i32],
        anchors: &[i32],
        size: (usize, usize),
        positions: &[(usize, usize)],
        anchor_pass: bool,
        threads: usize,
        out: &mut [i32],
    ) {
        let per = self.channels * self.levels;
        let run = |positions: &[(usize, usize)], out: &mut [i32]| {
            let f = self.features;
            let (mut feat, mut ctx, mut hid) = (vec![0i32; f], vec![0i32; f], vec![0i32; f]);
            for (&(y, x), logits) in positions.iter().zip(out.chunks_exact_mut(per)) {
                self.logits_at(
                    prior,
                    anchors,
                    size,
                    (y, x),
                    anchor_pass,
                    [&mut feat, &mut ctx, &mut hid],
                    logits,
                );
            }
        };
        // WebAssembly has no threads to spawn (std panics): one there.
        let threads = if cfg!(target_family = "wasm") {
            1
        } else {
            threads
        };
        let threads = threads.clamp(1, positions.len().div_ceil(MIN_POSITIONS_PER_THREAD).max(1));
        if threads == 1 {
            run(positions, out);
            return;
        }
        let share = positions.len().div_ceil(threads);
        std::thread::scope(|scope| {
            for (pos, out) in positions.chunks(share).zip(out.chunks_mut(share * per)) {
                scope.spawn(move || run(pos, out));
            }
        });
    }

    /// The logits `[c·L]` at `(y, x)` (`scratch`: three `F`-long buffers).
    #[allow(clippy::too_many_arguments)]
    fn logits_at(
        &self,
        prior: &[i32],
        anchors: &[i32],
        (h, w): (usize, usize),
        (y, x): (usize, usize),
        anchor_pass: bool,
        [feat, ctx, hid]: [&mut Vec<i32>; 3],
        logits: &mut [i32],
    ) {
        match &self.prior {
            Some(p) => p.forward_at(prior, h, w, y, x, feat),
            None => feat.fill(0),
        }
        if let Some(k) = self.rate {
            let f = self.features;
            for (a, &b) in feat.iter_mut().zip(&self.rate_biases[k * f..(k + 1) * f]) {
                *a = add_act(*a, b);
            }
        }
        if !anchor_pass {
            self.context.forward_at(anchors, h, w, y, x, ctx);
            for (a, &b) in feat.iter_mut().zip(ctx.iter()) {
                *a = add_act(*a, b);
            }
        }
        feat.iter_mut().for_each(|v| *v = (*v).max(0));
        self.hidden.forward_at(feat, 1, 1, 0, 0, hid);
        hid.iter_mut().for_each(|v| *v = (*v).max(0));
        self.out.forward_at(hid, 1, 1, 0, 0, logits);
    }

    // ---------------------------------------------------------------- serialisation

    /// Little-endian serialisation: `b"CVQP"`, version `u8` (1 for a fixed-rate model,
    /// 2 for a variable-rate one), `levels, channels, prior_channels, features: u16`,
    /// `level_values: [i32; L]`, in version 2 the rate count `K: u8` and the rate biases
    /// `[i32; K·F]`, then the layers (prior if `P > 0`, context, hidden, out), each
    /// `c_in, c_out: u16, kernel: u8, shifts: [u8], bias: [i64], weights: [i16]`. The
    /// selected rate point is not stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        let rates = self.rate_points();
        b.push(if rates > 0 { VERSION_RATES } else { VERSION });
        for v in [
            self.levels,
            self.channels,
            self.prior_channels,
            self.features,
        ] {
            b.extend_from_slice(&(v as u16).to_le_bytes());
        }
        for v in &self.level_values {
            b.extend_from_slice(&v.to_le_bytes());
        }
        if rates > 0 {
            b.push(rates as u8);
            for v in &self.rate_biases {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        if let Some(p) = &self.prior {
            p.write(&mut b);
        }
        self.context.write(&mut b);
        self.hidden.write(&mut b);
        self.out.write(&mut b);
        b
    }

    /// Inverse of [`IntParallelGroupModel::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`EntropyError::Malformed`] on truncated / trailing / unknown data,
    /// [`EntropyError::InvalidModel`] on out-of-range values.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EntropyError> {
        let mut r = Reader::new(bytes);
        if r.take(4)? != MAGIC {
            return Err(EntropyError::Malformed("not a CVQP group model"));
        }
        let version = r.u8()?;
        if version != VERSION && version != VERSION_RATES {
            return Err(EntropyError::Malformed("unknown CVQP group model version"));
        }
        let levels = usize::from(r.u16()?);
        let channels = usize::from(r.u16()?);
        let prior_channels = usize::from(r.u16()?);
        let features = usize::from(r.u16()?);
        if !(2..=MAX_SYMBOLS).contains(&levels) || channels == 0 || features == 0 {
            return Err(EntropyError::Malformed(
                "levels / channels / features out of range",
            ));
        }
        let level_values = r.i32s(levels)?;
        let rate_biases = if version == VERSION_RATES {
            let k = usize::from(r.u8()?);
            if k == 0 || k > MAX_RATE_POINTS {
                return Err(EntropyError::Malformed("rate point count out of range"));
            }
            Some(r.i32s(k * features)?)
        } else {
            None
        };
        let prior = if prior_channels > 0 {
            Some(IntConv2d::read(&mut r, prior_channels, features, 3)?)
        } else {
            None
        };
        let context = IntConv2d::read(&mut r, channels, features, 3)?;
        let hidden = IntConv2d::read(&mut r, features, features, 1)?;
        let out = IntConv2d::read(&mut r, features, channels * levels, 1)?;
        r.finished()?;
        let model = Self::new(
            levels,
            channels,
            prior_channels,
            ParallelLayers {
                prior,
                context,
                hidden,
                out,
            },
            level_values,
        )?;
        match rate_biases {
            Some(b) => model.with_rate_biases(b),
            None => Ok(model),
        }
    }
}

const MAGIC: &[u8; 4] = b"CVQP";
/// Fixed-rate group models.
const VERSION: u8 = 1;
/// Variable-rate group models (rate biases stored).
const VERSION_RATES: u8 = 2;
