//! The integer (bit-exact) 3D context model: the four masked 3×3×3 convolutions of
//! `cvq_core::model::context3d::ContextModel3d` in fixed point (see [`crate::fixed`]),
//! evaluated one position at a time in raster order `(c, y, x)`.

use cvq_bitstream::coder::{IntCdf, MAX_SYMBOLS};

use crate::EntropyError;
use crate::fixed::{ACT_MAX, ExpTable, add_act, check_layer_params, round_shift};
use crate::reader::Reader;

/// Largest hidden width `F`.
pub const MAX_FEATURES: usize = 1024;
/// Largest number of positions `c·h·w` of one group.
pub const MAX_POSITIONS: usize = 1 << 26;
/// Largest `h·w·F` (bounds the decoder's working memory: `24·h·w·F` bytes).
pub const MAX_PLANE_WORK: usize = 1 << 24;

/// Kernel taps `(dz, dy, dx)` in kernel raster order, the first 13 strictly before
/// the centre, the 14th the centre (the later 13 are always masked out).
pub(crate) const TAPS: [(isize, isize, isize); 14] = {
    let mut t = [(0, 0, 0); 14];
    let mut k = 0;
    while k < 14 {
        t[k] = (
            (k / 9) as isize - 1,
            ((k / 3) % 3) as isize - 1,
            (k % 3) as isize - 1,
        );
        k += 1;
    }
    t
};

/// Causal mask of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskKind {
    /// Strictly earlier positions (13 taps).
    Hollow,
    /// Earlier positions and the centre (14 taps).
    Solid,
}

impl MaskKind {
    /// Number of kernel taps the mask keeps.
    pub fn taps(self) -> usize {
        match self {
            MaskKind::Hollow => 13,
            MaskKind::Solid => 14,
        }
    }
}

/// One masked 3×3×3 convolution (padding 1) in fixed point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntMaskedConv3d {
    kind: MaskKind,
    c_in: usize,
    c_out: usize,
    /// `[c_out][taps][c_in]`, real weight = `w / 2^shifts[o]`.
    weights: Vec<i16>,
    /// Per-output-channel power-of-two scale.
    shifts: Vec<u8>,
    /// Bias in accumulator scale Q(`ACT_FRAC + shifts[o]`).
    bias: Vec<i64>,
}

impl IntMaskedConv3d {
    /// A layer from its integer parameters; `weights` is laid out
    /// `[c_out][kind.taps()][c_in]` (taps in kernel raster order).
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidModel`] on inconsistent sizes or out-of-range values
    /// (`|w| ≤ 32767`, `shift ≤ 30`, `|bias| ≤ 2^56`).
    pub fn new(
        kind: MaskKind,
        c_in: usize,
        c_out: usize,
        weights: Vec<i16>,
        shifts: Vec<u8>,
        bias: Vec<i64>,
    ) -> Result<Self, EntropyError> {
        if c_in == 0 || c_out == 0 || c_in > MAX_FEATURES || c_out > MAX_FEATURES.max(MAX_SYMBOLS) {
            return Err(EntropyError::InvalidModel(
                "layer width out of range".to_string(),
            ));
        }
        check_layer_params(c_out * kind.taps() * c_in, c_out, &weights, &shifts, &bias)?;
        Ok(Self {
            kind,
            c_in,
            c_out,
            weights,
            shifts,
            bias,
        })
    }

    /// Mask kind.
    pub fn kind(&self) -> MaskKind {
        self.kind
    }
    /// Input channels.
    pub fn c_in(&self) -> usize {
        self.c_in
    }
    /// Output channels.
    pub fn c_out(&self) -> usize {
        self.c_out
    }
    /// Weights `[c_out][taps][c_in]`.
    pub fn weights(&self) -> &[i16] {
        &self.weights
    }
    /// Per-output-channel shifts.
    pub fn shifts(&self) -> &[u8] {
        &self.shifts
    }
    /// Biases in accumulator scale.
    pub fn bias(&self) -> &[i64] {
        &self.bias
    }

    /// Output at one position. `valid` lists `(tap, slot)` of the in-bounds taps,
    /// `src` holds `c_in` activations per slot, `dst` receives `c_out` values.
    #[inline]
    fn forward_at(&self, valid: &[(usize, usize)], src: &[i32], dst: &mut [i32]) {
        let taps = self.kind.taps();
        let c_in = self.c_in;
        let per_out = taps * c_in;
        for (o, out) in dst.iter_mut().enumerate().take(self.c_out) {
            let wo = &self.weights[o * per_out..(o + 1) * per_out];
            let mut acc = self.bias[o];
            for &(t, slot) in valid {
                if t >= taps {
                    continue;
                }
                let wv = &wo[t * c_in..(t + 1) * c_in];
                let av = &src[slot * c_in..(slot + 1) * c_in];
                acc += wv
                    .iter()
                    .zip(av)
                    .map(|(&w, &a)| i64::from(w) * i64::from(a))
                    .sum::<i64>();
            }
            *out = round_shift(acc, self.shifts[o]);
        }
    }
}

/// The integer context model of one channel group: `L` levels, hidden width `F`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntContextModel3d {
    levels: usize,
    features: usize,
    layers: [IntMaskedConv3d; 4],
    /// Fixed-point (Q12) quantizer mean μ of every level.
    level_values: Vec<i32>,
    exp: ExpTable,
}

impl IntContextModel3d {
    /// Assembles and validates a model: layers hollow 1→F, solid F→F, solid F→F,
    /// solid F→L; `level_values` are the Q12 means of the `L` levels.
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidModel`] when shapes, kinds or ranges are wrong.
    pub fn new(
        levels: usize,
        features: usize,
        layers: [IntMaskedConv3d; 4],
        level_values: Vec<i32>,
    ) -> Result<Self, EntropyError> {
        let bad = |m: &str| Err(EntropyError::InvalidModel(m.to_string()));
        if levels == 0 || levels > MAX_SYMBOLS {
            return bad("levels must be in 1..=256");
        }
        if features == 0 || features > MAX_FEATURES {
            return bad("features must be in 1..=1024");
        }
        let expect = [
            (MaskKind::Hollow, 1, features),
            (MaskKind::Solid, features, features),
            (MaskKind::Solid, features, features),
            (MaskKind::Solid, features, levels),
        ];
        for (layer, (kind, c_in, c_out)) in layers.iter().zip(expect) {
            if layer.kind != kind || layer.c_in != c_in || layer.c_out != c_out {
                return bad(
                    "layer kinds / shapes do not match hollow 1→F, solid F→F ×2, solid F→L",
                );
            }
        }
        if level_values.len() != levels {
            return bad("level_values must have one entry per level");
        }
        if level_values.iter().any(|v| v.abs() > ACT_MAX) {
            return bad("level value out of range");
        }
        Ok(Self {
            levels,
            features,
            layers,
            level_values,
            exp: ExpTable::new(),
        })
    }

    /// Number of levels `L`.
    pub fn levels(&self) -> usize {
        self.levels
    }
    /// Hidden width `F`.
    pub fn features(&self) -> usize {
        self.features
    }
    /// The four layers.
    pub fn layers(&self) -> &[IntMaskedConv3d; 4] {
        &self.layers
    }
    /// Q12 level means.
    pub fn level_values(&self) -> &[i32] {
        &self.level_values
    }

    /// The coded frequencies (each `≥ 1`, summing to `2^16`) of every symbol at every
    /// position given the whole group, `[c·h·w][L]` in raster order. Position `p`'s
    /// row depends only on `symbols[..p]`.
    ///
    /// # Errors
    ///
    /// Size limits, length mismatch or symbols `≥ L`.
    pub fn frequencies(
        &self,
        symbols: &[usize],
        c: usize,
        h: usize,
        w: usize,
    ) -> Result<Vec<u32>, EntropyError> {
        check_symbols(self, symbols, self.checked_positions(c, h, w)?)?;
        let mut out = Vec::with_capacity(symbols.len() * self.levels);
        self.code(c, h, w, |p, cdf| {
            out.extend(cdf.frequencies());
            Ok(symbols[p])
        })?;
        Ok(out)
    }

    // ---------------------------------------------------------------- serialisation

    /// Little-endian serialisation: `b"CVQ3"`, version `u8 = 1`, `levels: u16`,
    /// `features: u16`, `level_values: [i32; L]`, then per layer `shifts: [u8; c_out]`,
    /// `bias: [i64; c_out]`, `weights: [i16; c_out·taps·c_in]`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.push(VERSION);
        b.extend_from_slice(&(self.levels as u16).to_le_bytes());
        b.extend_from_slice(&(self.features as u16).to_le_bytes());
        for v in &self.level_values {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for layer in &self.layers {
            b.extend_from_slice(&layer.shifts);
            for x in &layer.bias {
                b.extend_from_slice(&x.to_le_bytes());
            }
            for x in &layer.weights {
                b.extend_from_slice(&x.to_le_bytes());
            }
        }
        b
    }

    /// Inverse of [`IntContextModel3d::to_bytes`].
    ///
    /// # Errors
    ///
    /// [`EntropyError::Malformed`] on truncated / trailing / unknown data,
    /// [`EntropyError::InvalidModel`] on out-of-range values.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EntropyError> {
        let mut r = Reader::new(bytes);
        if r.take(4)? != MAGIC {
            return Err(EntropyError::Malformed("bad magic"));
        }
        if r.take(1)?[0] != VERSION {
            return Err(EntropyError::Malformed("unknown version"));
        }
        let levels = usize::from(r.u16()?);
        let features = usize::from(r.u16()?);
        if levels == 0 || levels > MAX_SYMBOLS || features == 0 || features > MAX_FEATURES {
            return Err(EntropyError::Malformed("levels / features out of range"));
        }
        let level_values = r.i32s(levels)?;
        let shapes = [
            (MaskKind::Hollow, 1, features),
            (MaskKind::Solid, features, features),
            (MaskKind::Solid, features, features),
            (MaskKind::Solid, features, levels),
        ];
        let mut layers = Vec::with_capacity(4);
        for (kind, c_in, c_out) in shapes {
            let shifts = r.take(c_out)?.to_vec();
            let bias = r.i64s(c_out)?;
            let weights = r.i16s(c_out * kind.taps() * c_in)?;
            layers.push(IntMaskedConv3d::new(
                kind, c_in, c_out, weights, shifts, bias,
            )?);
        }
        r.finished()?;
        let layers: [IntMaskedConv3d; 4] = layers
            .try_into()
            .map_err(|_| EntropyError::Malformed("layer count"))?;
        Self::new(levels, features, layers, level_values)
    }
}

const MAGIC: &[u8; 4] = b"CVQ3";
const VERSION: u8 = 1;

pub(crate) fn check_symbols(
    model: &IntContextModel3d,
    symbols: &[usize],
    positions: usize,
) -> Result<(), EntropyError> {
    if symbols.len() != positions {
        return Err(EntropyError::LengthMismatch {
            expected: positions,
            got: symbols.len(),
        });
    }
    if let Some((position, &symbol)) = symbols
        .iter()
        .enumerate()
        .find(|(_, s)| **s >= model.levels)
    {
        return Err(EntropyError::SymbolOutOfRange {
            position,
            symbol,
            levels: model.levels,
        });
    }
    Ok(())
}

impl IntContextModel3d {
    /// `c·h·w` after checking the size limits ([`MAX_POSITIONS`], [`MAX_PLANE_WORK`]).
    pub(crate) fn checked_positions(
        &self,
        c: usize,
        h: usize,
        w: usize,
    ) -> Result<usize, EntropyError> {
        let too_large = EntropyError::TooLarge { c, h, w };
        let hw = h.checked_mul(w).ok_or(too_large.clone())?;
        let positions = hw.checked_mul(c).ok_or(too_large.clone())?;
        let plane_work = hw.checked_mul(self.features).ok_or(too_large.clone())?;
        if positions > MAX_POSITIONS || plane_work > MAX_PLANE_WORK {
            return Err(too_large);
        }
        Ok(positions)
    }

    /// Runs the model over one `c × h × w` group in raster order. For every position
    /// `p`, `symbol(p, cdf)` returns its symbol (the encoder's known one, the decoder's
    /// decoded one, or a guess). Returns the symbols.
    ///
    /// # Errors
    ///
    /// [`EntropyError::TooLarge`], a symbol `≥ L`, or whatever `symbol` returns.
    pub fn code<F>(
        &self,
        c: usize,
        h: usize,
        w: usize,
        mut symbol: F,
    ) -> Result<Vec<usize>, EntropyError>
    where
        F: FnMut(usize, &IntCdf) -> Result<usize, EntropyError>,
    {
        let mut state = GroupState::new(self, c, h, w)?;
        let mut out = Vec::with_capacity(state.positions);
        for p in 0..state.positions {
            let s = symbol(p, state.cdf_at(p)?)?;
            if s >= self.levels {
                return Err(EntropyError::SymbolOutOfRange {
                    position: p,
                    symbol: s,
                    levels: self.levels,
                });
            }
            state.set_symbol(p, s);
            out.push(s);
        }
        Ok(out)
    }
}

/// Incremental evaluation of the model over one group, position by position.
///
/// Every mask only reaches the current and the previous channel plane, so the
/// activations live in ring buffers of two planes (`slot = (z & 1)·h·w + y·w + x`);
/// slots of not-yet-computed positions may hold stale values from two planes back,
/// which no mask ever reads.
pub(crate) struct GroupState<'m> {
    model: &'m IntContextModel3d,
    h: usize,
    w: usize,
    hw: usize,
    pub(crate) positions: usize,
    input: Vec<i32>,
    a1: Vec<i32>,
    a2: Vec<i32>,
    a3: Vec<i32>,
    logits: Vec<i32>,
    weights: Vec<u32>,
    cdf: IntCdf,
}

impl<'m> GroupState<'m> {
    pub(crate) fn new(
        model: &'m IntContextModel3d,
        c: usize,
        h: usize,
        w: usize,
    ) -> Result<Self, EntropyError> {
        let positions = model.checked_positions(c, h, w)?;
        let hw = h * w;
        let f = model.features;
        let ring = 2 * hw;
        Ok(Self {
            model,
            h,
            w,
            hw,
            positions,
            input: vec![0; ring],
            a1: vec![0; ring * f],
            a2: vec![0; ring * f],
            a3: vec![0; ring * f],
            logits: vec![0; model.levels],
            weights: vec![0; model.levels],
            cdf: IntCdf::uniform(model.levels)?,
        })
    }

    #[inline]
    fn coords(&self, p: usize) -> (usize, usize, usize) {
        (p / self.hw, (p / self.w) % self.h, p % self.w)
    }

    #[inline]
    fn slot(&self, z: usize, y: usize, x: usize) -> usize {
        (z & 1) * self.hw + y * self.w + x
    }

    /// Computes every layer at raster position `p` (all earlier symbols must have
    /// been set) and returns the distribution of its symbol.
    pub(crate) fn cdf_at(&mut self, p: usize) -> Result<&IntCdf, EntropyError> {
        let (z, y, x) = self.coords(p);
        let mut valid = [(0usize, 0usize); 14];
        let mut n = 0;
        for (t, &(dz, dy, dx)) in TAPS.iter().enumerate() {
            let (Some(zz), Some(yy), Some(xx)) = (
                z.checked_add_signed(dz),
                y.checked_add_signed(dy),
                x.checked_add_signed(dx),
            ) else {
                continue;
            };
            if yy >= self.h || xx >= self.w {
                continue;
            }
            valid[n] = (t, self.slot(zz, yy, xx));
            n += 1;
        }
        let valid = &valid[..n];
        let f = self.model.features;
        let s = self.slot(z, y, x);
        let [l1, l2, l3, l4] = &self.model.layers;

        let out1 = &mut self.a1[s * f..(s + 1) * f];
        l1.forward_at(valid, &self.input, out1);
        out1.iter_mut().for_each(|v| *v = (*v).max(0));

        let out2 = &mut self.a2[s * f..(s + 1) * f];
        l2.forward_at(valid, &self.a1, out2);
        out2.iter_mut().for_each(|v| *v = (*v).max(0));

        let out3 = &mut self.a3[s * f..(s + 1) * f];
        l3.forward_at(valid, &self.a2, out3);
        for (o, &r) in out3.iter_mut().zip(&self.a1[s * f..(s + 1) * f]) {
            *o = add_act(*o, r);
        }

        l4.forward_at(valid, &self.a3, &mut self.logits);
        let max = self.logits.iter().copied().max().unwrap_or(0);
        for (wt, &l) in self.weights.iter_mut().zip(&self.logits) {
            *wt = self.model.exp.weight(i64::from(max) - i64::from(l));
        }
        self.cdf.set_weights(&self.weights)?;
        Ok(&self.cdf)
    }

    /// Records the symbol at position `p` (must be `< L`).
    pub(crate) fn set_symbol(&mut self, p: usize, symbol: usize) {
        let (z, y, x) = self.coords(p);
        let s = self.slot(z, y, x);
        self.input[s] = self.model.level_values[symbol];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_are_the_causal_kernel_positions() {
        // Tap k is kernel index k of the 3×3×3 raster; the centre is index 13.
        for (k, &(dz, dy, dx)) in TAPS.iter().enumerate() {
            assert_eq!(((dz + 1) * 9 + (dy + 1) * 3 + dx + 1) as usize, k);
        }
        assert_eq!(TAPS[13], (0, 0, 0));
        assert_eq!(MaskKind::Hollow.taps(), 13);
        assert_eq!(MaskKind::Solid.taps(), 14);
    }

    #[test]
    fn invalid_models_are_rejected() {
        let layer = |kind: MaskKind, c_in, c_out| {
            IntMaskedConv3d::new(
                kind,
                c_in,
                c_out,
                vec![1; c_out * kind.taps() * c_in],
                vec![12; c_out],
                vec![0; c_out],
            )
            .unwrap()
        };
        let good = || {
            [
                layer(MaskKind::Hollow, 1, 2),
                layer(MaskKind::Solid, 2, 2),
                layer(MaskKind::Solid, 2, 2),
                layer(MaskKind::Solid, 2, 3),
            ]
        };
        assert!(IntContextModel3d::new(3, 2, good(), vec![-4096, 0, 4096]).is_ok());
        assert!(IntContextModel3d::new(3, 2, good(), vec![0, 0]).is_err());
        assert!(IntContextModel3d::new(4, 2, good(), vec![0; 4]).is_err());
        let mut swapped = good();
        swapped[0] = layer(MaskKind::Solid, 1, 2);
        assert!(IntContextModel3d::new(3, 2, swapped, vec![0; 3]).is_err());
        assert!(
            IntMaskedConv3d::new(MaskKind::Solid, 1, 1, vec![i16::MIN; 14], vec![0], vec![0])
                .is_err()
        );
        assert!(
            IntMaskedConv3d::new(MaskKind::Solid, 1, 1, vec![0; 13], vec![0], vec![0]).is_err()
        );
        assert!(
            IntMaskedConv3d::new(MaskKind::Solid, 1, 1, vec![0; 14], vec![31], vec![0]).is_err()
        );
    }

    #[test]
    fn zero_model_is_uniform() {
        let layer = |kind: MaskKind, c_in, c_out| {
            let n = c_out * kind.taps() * c_in;
            IntMaskedConv3d::new(
                kind,
                c_in,
                c_out,
                vec![0; n],
                vec![0; c_out],
                vec![0; c_out],
            )
            .unwrap()
        };
        let model = IntContextModel3d::new(
            4,
            3,
            [
                layer(MaskKind::Hollow, 1, 3),
                layer(MaskKind::Solid, 3, 3),
                layer(MaskKind::Solid, 3, 3),
                layer(MaskKind::Solid, 3, 4),
            ],
            vec![0; 4],
        )
        .unwrap();
        let f = model.frequencies(&[0, 1, 2, 3, 3, 2], 1, 2, 3).unwrap();
        assert!(f.iter().all(|&x| x == 1 << 14));
    }
}
