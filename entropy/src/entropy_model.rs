//! A whole image's entropy model: one integer model per channel group, and the coding
//! of all groups of an image.
//!
//! Groups are indexed in model order (least important first, as in `codec-core`);
//! they are coded most important first, so group `g` may be conditioned on groups
//! `g+1..G` (the parallel model does; the 3D context model codes groups independently).

use cvq_bitstream::coder::{IntCdf, SymbolDecoder, SymbolEncoder};
use cvq_bitstream::format::EntropyModelKind;

use crate::EntropyError;
use crate::int_context3d::IntContextModel3d;
use crate::int_parallel::IntParallelGroupModel;
use crate::reader::{Reader, write_block};
use crate::symbol_bits;

/// The integer model of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupModel {
    /// The seed's sequential 3D context model over a group of `channels` channels.
    Context3d {
        /// Channels of the group.
        channels: usize,
        /// The model.
        model: IntContextModel3d,
    },
    /// The parallel checkerboard model conditioned on the more important groups.
    Parallel(IntParallelGroupModel),
}

impl GroupModel {
    /// Channels and levels of the group.
    pub fn shape(&self) -> GroupShape {
        match self {
            GroupModel::Context3d { channels, model } => GroupShape {
                channels: *channels,
                levels: model.levels(),
            },
            GroupModel::Parallel(m) => GroupShape {
                channels: m.channels(),
                levels: m.levels(),
            },
        }
    }

    fn level_values(&self) -> &[i32] {
        match self {
            GroupModel::Context3d { model, .. } => model.level_values(),
            GroupModel::Parallel(m) => m.level_values(),
        }
    }
}

/// Channels and levels of one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupShape {
    /// Channels `c_g`.
    pub channels: usize,
    /// Levels `L_g`.
    pub levels: usize,
}

/// One integer model per group, all of the same kind.
#[derive(Debug, Clone)]
pub struct EntropyModel {
    groups: Vec<GroupModel>,
    /// Threads that compute a parallel model's distributions ([`Self::with_threads`]);
    /// not part of the model (equality ignores it).
    threads: usize,
}

impl PartialEq for EntropyModel {
    fn eq(&self, other: &Self) -> bool {
        self.groups == other.groups
    }
}

impl Eq for EntropyModel {}

/// What [`EntropyModel::run`] does with each group and symbol.
trait Visitor {
    /// Called before group `g` is coded.
    fn start(&mut self, g: usize) -> Result<(), EntropyError>;
    /// The symbol at raster index `index` of group `g`, given its distribution.
    fn symbol(&mut self, g: usize, index: usize, cdf: &IntCdf) -> Result<usize, EntropyError>;
    /// Called after group `g` is coded.
    fn end(&mut self, g: usize) -> Result<(), EntropyError>;
}

struct Encoding<'a> {
    symbols: &'a [Vec<usize>],
    enc: SymbolEncoder,
    payloads: Vec<Vec<u8>>,
    bits: Vec<f64>,
}

impl Visitor for Encoding<'_> {
    fn start(&mut self, _: usize) -> Result<(), EntropyError> {
        self.enc = SymbolEncoder::new();
        Ok(())
    }
    fn symbol(&mut self, g: usize, index: usize, cdf: &IntCdf) -> Result<usize, EntropyError> {
        let s = self.symbols[g][index];
        self.enc.encode(s, cdf)?;
        self.bits[g] += symbol_bits(cdf, s);
        Ok(s)
    }
    fn end(&mut self, g: usize) -> Result<(), EntropyError> {
        let enc = std::mem::replace(&mut self.enc, SymbolEncoder::new());
        self.payloads[g] = enc.finish();
        Ok(())
    }
}

struct Decoding<'a> {
    payloads: &'a [Option<&'a [u8]>],
    dec: Option<SymbolDecoder<'a>>,
}

impl Visitor for Decoding<'_> {
    fn start(&mut self, g: usize) -> Result<(), EntropyError> {
        self.dec = self.payloads[g].map(SymbolDecoder::new);
        Ok(())
    }
    fn symbol(&mut self, _: usize, _: usize, cdf: &IntCdf) -> Result<usize, EntropyError> {
        match self.dec.as_mut() {
            Some(d) => Ok(d.decode(cdf)?),
            None => Ok(most_probable(cdf)),
        }
    }
    fn end(&mut self, _: usize) -> Result<(), EntropyError> {
        if let Some(d) = self.dec.take() {
            d.finish()?;
        }
        Ok(())
    }
}

/// Most probable symbol of a distribution (the first one on ties).
fn most_probable(cdf: &IntCdf) -> usize {
    let mut best = (0, 0);
    for (s, f) in cdf.frequencies().enumerate() {
        if f > best.1 {
            best = (s, f);
        }
    }
    best.0
}

impl EntropyModel {
    /// Bundles per-group models (model order, least important first).
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidModel`] when empty, of mixed kinds, or when a parallel
    /// group's prior width is not the channel count of the groups after it.
    pub fn new(groups: Vec<GroupModel>) -> Result<Self, EntropyError> {
        let bad = |m: &str| Err(EntropyError::InvalidModel(m.to_string()));
        if groups.is_empty() || groups.len() > 255 {
            return bad("an entropy model has 1..=255 groups");
        }
        let parallel = matches!(groups[0], GroupModel::Parallel(_));
        let mut after = 0usize;
        for g in groups.iter().rev() {
            match g {
                GroupModel::Parallel(m) if parallel => {
                    if m.prior_channels() != after {
                        return bad("parallel group prior width ≠ channels of later groups");
                    }
                }
                GroupModel::Context3d { channels, .. } if !parallel => {
                    if *channels == 0 || *channels > crate::MAX_FEATURES * 64 {
                        return bad("context group channel count out of range");
                    }
                }
                _ => return bad("all groups must use the same kind of model"),
            }
            after += g.shape().channels;
        }
        let rates = |g: &GroupModel| match g {
            GroupModel::Parallel(m) => m.rate_points(),
            GroupModel::Context3d { .. } => 0,
        };
        if groups.iter().any(|g| rates(g) != rates(&groups[0])) {
            return bad("all groups must have the same number of rate points");
        }
        Ok(Self { groups, threads: 1 })
    }

    /// Rate points `K` of a variable-rate model (0 for a fixed-rate model).
    pub fn rate_points(&self) -> usize {
        match &self.groups[0] {
            GroupModel::Parallel(m) => m.rate_points(),
            GroupModel::Context3d { .. } => 0,
        }
    }

    /// The model that codes at rate point `rate` (`0..K`) of a variable-rate model (on
    /// as many threads as this one).
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidModel`] if there is no such rate point (always for a
    /// fixed-rate model).
    pub fn at_rate(&self, rate: usize) -> Result<Self, EntropyError> {
        let groups = self
            .groups
            .iter()
            .map(|g| match g {
                GroupModel::Parallel(m) => Ok(GroupModel::Parallel(m.with_rate(rate)?)),
                GroupModel::Context3d { .. } => Err(EntropyError::InvalidModel(
                    "the 3D context model has no rate points".into(),
                )),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            groups,
            threads: self.threads,
        })
    }

    /// The parallel (checkerboard) model computes the distributions of each band of
    /// rows on `threads` threads before coding them
    /// ([`IntParallelGroupModel::code_on`](crate::IntParallelGroupModel::code_on)): the
    /// same symbols and bytes, sooner. 1 (the default) spawns no thread, as WebAssembly
    /// in a browser needs. The 3D context model codes on one thread.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Kind stored in the `.cvq` header.
    pub fn kind(&self) -> EntropyModelKind {
        match self.groups[0] {
            GroupModel::Parallel(_) => EntropyModelKind::Parallel,
            GroupModel::Context3d { .. } => EntropyModelKind::Context3d,
        }
    }

    /// The per-group models (model order).
    pub fn groups(&self) -> &[GroupModel] {
        &self.groups
    }

    /// Channels and levels of every group (model order).
    pub fn shapes(&self) -> Vec<GroupShape> {
        self.groups.iter().map(GroupModel::shape).collect()
    }

    /// Codes every group, most important first, asking `visitor` for each symbol.
    /// Returns the symbols of every group (model order), `[c_g][h][w]` each.
    fn run<V: Visitor>(
        &self,
        h: usize,
        w: usize,
        visitor: &mut V,
    ) -> Result<Vec<Vec<usize>>, EntropyError> {
        let n = self.groups.len();
        let mut done: Vec<Vec<usize>> = vec![Vec::new(); n];
        for g in (0..n).rev() {
            visitor.start(g)?;
            let symbols = match &self.groups[g] {
                GroupModel::Context3d { channels, model } => {
                    model.code(*channels, h, w, |p, cdf| visitor.symbol(g, p, cdf))?
                }
                GroupModel::Parallel(m) => {
                    let hw = m.check_size(h, w)?;
                    let prior = self.prior_plane(g, &done, hw);
                    m.code_on(&prior, h, w, self.threads, |i, cdf| {
                        visitor.symbol(g, i, cdf)
                    })?
                }
            };
            visitor.end(g)?;
            done[g] = symbols;
        }
        Ok(done)
    }

    /// Channel-last Q12 values `[h·w][P]` of groups `g+1..G` (in index order).
    fn prior_plane(&self, g: usize, done: &[Vec<usize>], hw: usize) -> Vec<i32> {
        let p: usize = self.groups[g + 1..]
            .iter()
            .map(|m| m.shape().channels)
            .sum();
        let mut plane = vec![0i32; hw * p];
        let mut offset = 0;
        for (j, model) in self.groups.iter().enumerate().skip(g + 1) {
            let c = model.shape().channels;
            let values = model.level_values();
            for ch in 0..c {
                for pos in 0..hw {
                    plane[pos * p + offset + ch] = values[done[j][ch * hw + pos]];
                }
            }
            offset += c;
        }
        plane
    }

    fn check_symbols(
        &self,
        symbols: &[Vec<usize>],
        h: usize,
        w: usize,
    ) -> Result<(), EntropyError> {
        if symbols.len() != self.groups.len() {
            return Err(EntropyError::LengthMismatch {
                expected: self.groups.len(),
                got: symbols.len(),
            });
        }
        for (s, m) in symbols.iter().zip(&self.groups) {
            let expected = m.shape().channels.saturating_mul(h).saturating_mul(w);
            if s.len() != expected {
                return Err(EntropyError::LengthMismatch {
                    expected,
                    got: s.len(),
                });
            }
            let levels = m.shape().levels;
            if let Some((position, &symbol)) = s.iter().enumerate().find(|(_, x)| **x >= levels) {
                return Err(EntropyError::SymbolOutOfRange {
                    position,
                    symbol,
                    levels,
                });
            }
        }
        Ok(())
    }

    /// Encodes the symbols of every group (model order, `[c_g][h][w]` each, values
    /// `< L_g`) of an `h × w` latent; returns one payload per group (model order).
    ///
    /// # Errors
    ///
    /// Length mismatch, out-of-range symbols, size limits.
    pub fn encode(
        &self,
        symbols: &[Vec<usize>],
        h: usize,
        w: usize,
    ) -> Result<Vec<Vec<u8>>, EntropyError> {
        Ok(self.encode_with_estimate(symbols, h, w)?.0)
    }

    /// Ideal code length in bits of every group (model order):
    /// `Σ −log2(freq / 2^16)` under the integer model.
    ///
    /// # Errors
    ///
    /// As [`EntropyModel::encode`].
    pub fn estimate_bits(
        &self,
        symbols: &[Vec<usize>],
        h: usize,
        w: usize,
    ) -> Result<Vec<f64>, EntropyError> {
        Ok(self.encode_with_estimate(symbols, h, w)?.1)
    }

    /// [`EntropyModel::encode`] and [`EntropyModel::estimate_bits`] in one pass over
    /// the model: `(payloads, bits)`, both per group in model order.
    ///
    /// # Errors
    ///
    /// As [`EntropyModel::encode`].
    pub fn encode_with_estimate(
        &self,
        symbols: &[Vec<usize>],
        h: usize,
        w: usize,
    ) -> Result<(Vec<Vec<u8>>, Vec<f64>), EntropyError> {
        self.check_symbols(symbols, h, w)?;
        let n = self.groups.len();
        let mut v = Encoding {
            symbols,
            enc: SymbolEncoder::new(),
            payloads: vec![Vec::new(); n],
            bits: vec![0.0; n],
        };
        self.run(h, w, &mut v)?;
        Ok((v.payloads, v.bits))
    }

    /// Decodes the groups of an `h × w` latent from their payloads (model order).
    /// A missing payload (`None`: a group not received yet) is filled with the most
    /// probable symbol of every position (progressive preview).
    ///
    /// # Errors
    ///
    /// [`EntropyError::Coder`] on corrupt payloads, size limits, or a wrong number of
    /// payloads.
    pub fn decode(
        &self,
        payloads: &[Option<&[u8]>],
        h: usize,
        w: usize,
    ) -> Result<Vec<Vec<usize>>, EntropyError> {
        if payloads.len() != self.groups.len() {
            return Err(EntropyError::LengthMismatch {
                expected: self.groups.len(),
                got: payloads.len(),
            });
        }
        self.run(
            h,
            w,
            &mut Decoding {
                payloads,
                dec: None,
            },
        )
    }

    // ---------------------------------------------------------------- serialisation

    /// Serialisation: `b"CVQE"`, version `u8 = 1`, kind `u8` (as in the `.cvq`
    /// header), group count `u8`, then per group (model order) for the 3D model
    /// `channels: u16` + a `u32`-length-prefixed `CVQ3` block, for the parallel model
    /// a `u32`-length-prefixed `CVQP` block.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.push(VERSION);
        b.push(self.kind().as_u8());
        b.push(self.groups.len() as u8);
        for g in &self.groups {
            match g {
                GroupModel::Context3d { channels, model } => {
                    b.extend_from_slice(&(*channels as u16).to_le_bytes());
                    write_block(&mut b, &model.to_bytes());
                }
                GroupModel::Parallel(m) => write_block(&mut b, &m.to_bytes()),
            }
        }
        b
    }

    /// Inverse of [`EntropyModel::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`EntropyError::Malformed`] / [`EntropyError::InvalidModel`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EntropyError> {
        let mut r = Reader::new(bytes);
        if r.take(4)? != MAGIC || r.u8()? != VERSION {
            return Err(EntropyError::Malformed("not a CVQE v1 entropy model"));
        }
        let kind = EntropyModelKind::try_from(r.u8()?)
            .ok()
            .filter(|k| !k.is_binary())
            .ok_or(EntropyError::Malformed("unknown entropy model kind"))?;
        let n = usize::from(r.u8()?);
        let mut groups = Vec::with_capacity(n);
        for _ in 0..n {
            groups.push(match kind {
                EntropyModelKind::Context3d => {
                    let channels = usize::from(r.u16()?);
                    GroupModel::Context3d {
                        channels,
                        model: IntContextModel3d::from_bytes(r.block()?)?,
                    }
                }
                EntropyModelKind::Parallel
                | EntropyModelKind::Binary
                | EntropyModelKind::BinaryMixing => {
                    GroupModel::Parallel(IntParallelGroupModel::from_bytes(r.block()?)?)
                }
            });
        }
        r.finished()?;
        Self::new(groups)
    }
}

const MAGIC: &[u8; 4] = b"CVQE";
const VERSION: u8 = 1;
