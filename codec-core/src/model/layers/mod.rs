//! Building blocks shared by the encoder and the decoder.

pub mod activation;
pub mod attention;
pub mod conv;
pub mod gdn;
pub mod mean_shift;
pub mod pixel_shuffle;
pub mod residual;
