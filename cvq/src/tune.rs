//! [`Tune`]: which quality measure an embedded model was trained for.

use std::fmt;
use std::str::FromStr;

/// The quality measure an embedded model was trained to preserve: its training loss was
/// `λ·MSE + rate` (PSNR) or `α·(1 − MS-SSIM) + rate` (MS-SSIM). Both kinds write
/// ordinary `.cvq` files that decode with [`decode`](crate::decode); the tune only
/// chooses which embedded model encodes.
///
/// ```
/// use cvq::Tune;
///
/// assert_eq!("ms-ssim".parse::<Tune>(), Ok(Tune::MsSsim));
/// assert_eq!(Tune::default(), Tune::Psnr);
/// assert!("sharp".parse::<Tune>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tune {
    /// Mean squared error: the highest PSNR at a given size (the default ladder).
    #[default]
    Psnr,
    /// MS-SSIM: structure and texture kept at the expense of PSNR (SPEC's α(1 − MS-SSIM)
    /// + R loss).
    MsSsim,
}

impl Tune {
    /// Every tune, in the order [`Tune::name`] lists them.
    pub const ALL: [Tune; 2] = [Tune::Psnr, Tune::MsSsim];

    /// The name used on the command line and in messages: `psnr` or `ms-ssim`.
    pub fn name(self) -> &'static str {
        match self {
            Tune::Psnr => "psnr",
            Tune::MsSsim => "ms-ssim",
        }
    }
}

impl fmt::Display for Tune {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A tune name that is neither `psnr` nor `ms-ssim`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tune {0:?} (expected psnr or ms-ssim)")]
pub struct UnknownTune(pub String);

impl FromStr for Tune {
    type Err = UnknownTune;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tune::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownTune(s.to_string()))
    }
}
