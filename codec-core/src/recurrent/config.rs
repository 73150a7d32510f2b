//! Configuration of the recurrent progressive codec (SPEC §2, Toderici et al. 2017).

use burn::config::Config;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The recurrent cell of every encoder and decoder layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CellKind {
    /// Convolutional LSTM (hidden and cell state).
    Lstm,
    /// Convolutional GRU (hidden state only; 3/4 of the LSTM's gate convolutions).
    Gru,
}

/// How the iterations' decoder outputs make the reconstruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReconstructionMode {
    /// Each iteration's output is the whole image: `x̂_t = D_t`.
    OneShot,
    /// Outputs add up: `x̂_t = x̂_{t−1} + D_t`.
    Additive,
    /// Additive, with the residual scaled by a gain map predicted from `x̂_{t−1}` before
    /// encoding and the output divided by it: `x̂_t = x̂_{t−1} + D_t / g_t`.
    ResidualScaling,
}

/// Named widths of the recurrent codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecurrentPreset {
    /// The seed's widths: encoder states 256/512/512, decoder 512/512/256/128.
    Seed,
    /// A small model for the browser and CPU training: encoder 64/128/128, decoder
    /// 128/128/64/32.
    Compact,
    /// Smallest widths, for tests.
    Tiny,
}

impl RecurrentPreset {
    /// Every preset.
    pub const ALL: [Self; 3] = [Self::Seed, Self::Compact, Self::Tiny];

    /// Its name (`cvq info --preset rnn-NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Seed => "seed",
            Self::Compact => "compact",
            Self::Tiny => "tiny",
        }
    }
}

impl std::str::FromStr for RecurrentPreset {
    type Err = RecurrentConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| RecurrentConfigError::UnknownPreset(s.to_string()))
    }
}

/// Widths and options of a recurrent codec. Images are padded to multiples of
/// [`RecurrentConfig::ALIGN`]; each iteration writes `bits` codes per 16×16 block.
#[derive(Config, Debug, PartialEq)]
pub struct RecurrentConfig {
    /// Model name written into files (1..=32 printable ASCII).
    pub name: String,
    /// Recurrent cell.
    pub cell: CellKind,
    /// Channels of the strided convolution before the first recurrent layer (H/2).
    pub encoder_head: usize,
    /// Hidden states of the encoder's recurrent layers at H/4, H/8, H/16.
    pub encoder_states: [usize; 3],
    /// Binary codes per position at H/16 per iteration (`bits / 256` bpp).
    pub bits: usize,
    /// Channels of the 1×1 convolution after the codes (H/16).
    pub decoder_head: usize,
    /// Hidden states of the decoder's recurrent layers at H/16, H/8, H/4, H/2; each is
    /// followed by a depth-to-space ×2, so each must be a multiple of 4.
    pub decoder_states: [usize; 4],
    /// Reconstruction mode.
    pub mode: ReconstructionMode,
    /// Iterations trained and stored at most.
    #[config(default = 16)]
    pub iterations: usize,
}

/// A recurrent configuration that cannot be built.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RecurrentConfigError {
    /// Not one of the preset names.
    #[error("unknown recurrent preset `{0}` (expected one of: seed, compact, tiny)")]
    UnknownPreset(String),
    /// The model name is empty, too long or not printable ASCII.
    #[error("model name {0:?} must be 1..=32 printable ASCII characters")]
    BadName(String),
    /// A width is zero.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// A decoder state is not a multiple of 4 (depth-to-space ×2 follows it).
    #[error("decoder state {index} ({value}) must be a multiple of 4")]
    DecoderState {
        /// Which state.
        index: usize,
        /// Its width.
        value: usize,
    },
    /// A configuration that is not the other's with a wider last decoder cell.
    #[error("the wider configuration must differ only by a larger last decoder state")]
    NotAWidening,
    /// More iterations than a file can hold.
    #[error("iterations must be 1..={max} with iterations × bits ≤ 1024, got {got}")]
    Iterations {
        /// Asked for.
        got: usize,
        /// The most allowed.
        max: usize,
    },
}

impl RecurrentConfig {
    /// Images are padded to multiples of this many pixels: the networks' total stride
    /// (four stride-2 stages), as for CVQN. The seed trained on 32×32 patches; padding
    /// whole images to 32 would only add a row or column of codes per iteration.
    pub const ALIGN: usize = 16;
    /// Most codes per position over all iterations (`iterations × bits`): the channels a
    /// `.cvq` file holds under the default reader limits.
    pub const MAX_CODES: usize = 1024;
    /// Most iterations a model may have.
    pub const MAX_ITERATIONS: usize = 64;

    /// The widths of `preset` (ConvLSTM, residual scaling off: additive).
    pub fn preset(preset: RecurrentPreset) -> Self {
        let (name, head, enc, bits, dhead, dec) = match preset {
            RecurrentPreset::Seed => (
                "rnn-seed",
                64,
                [256, 512, 512],
                32,
                512,
                [512, 512, 256, 128],
            ),
            RecurrentPreset::Compact => (
                "rnn-compact",
                32,
                [64, 128, 128],
                32,
                128,
                [128, 128, 64, 32],
            ),
            RecurrentPreset::Tiny => ("rnn-tiny", 8, [8, 16, 16], 4, 16, [16, 16, 8, 8]),
        };
        Self::new(
            name.into(),
            CellKind::Lstm,
            head,
            enc,
            bits,
            dhead,
            dec,
            ReconstructionMode::Additive,
        )
    }

    /// Checks every width and the name.
    ///
    /// # Errors
    ///
    /// The first problem found.
    pub fn validate(&self) -> Result<(), RecurrentConfigError> {
        let n = &self.name;
        if n.is_empty() || n.len() > 32 || !n.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(RecurrentConfigError::BadName(n.clone()));
        }
        for (what, v) in [
            ("encoder_head", self.encoder_head),
            ("bits", self.bits),
            ("decoder_head", self.decoder_head),
        ]
        .into_iter()
        .chain(self.encoder_states.iter().map(|&v| ("encoder_states", v)))
        {
            if v == 0 {
                return Err(RecurrentConfigError::Zero(what));
            }
        }
        for (index, &value) in self.decoder_states.iter().enumerate() {
            if value == 0 || value % 4 != 0 {
                return Err(RecurrentConfigError::DecoderState { index, value });
            }
        }
        if self.iterations == 0
            || self.iterations > Self::MAX_ITERATIONS
            || self.iterations.saturating_mul(self.bits) > Self::MAX_CODES
        {
            return Err(RecurrentConfigError::Iterations {
                got: self.iterations,
                max: Self::MAX_ITERATIONS,
            });
        }
        Ok(())
    }

    /// Bits per pixel one iteration adds (before entropy coding): `bits / 256`.
    pub fn bpp_per_iteration(&self) -> f64 {
        self.bits as f64 / 256.0
    }
}
