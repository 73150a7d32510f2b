//! cvq codec core: the CVQN model (Burn, backend-agnostic), its configuration and
//! complexity, the training objective, and image metrics.
//!
//! Crate map: [`config`] (presets, validation) → [`model`] (Burn modules) →
//! [`loss`] (rate–distortion objective) ; [`complexity`] (params / MACs) ;
//! [`metrics`] (PSNR, MS-SSIM in plain Rust and as Burn tensor ops).
#![forbid(unsafe_code)]

pub mod codec;
pub mod complexity;
pub mod config;
pub mod entropy;
pub mod loaded;
pub mod loss;
pub mod metrics;
pub mod model;
pub mod recurrent;
pub mod tiling;
