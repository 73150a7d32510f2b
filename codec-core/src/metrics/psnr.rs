//! Mean squared error and PSNR over interleaved 8-bit RGB buffers (`f64`).

use super::{DATA_RANGE, MetricError, check_rgb8};

/// Mean squared error over all `width * height * 3` samples.
///
/// The squared differences are summed exactly in integer arithmetic and
/// divided once, so the result is the correctly rounded `f64` MSE.
///
/// # Errors
/// [`MetricError`] if the buffers differ in length, do not hold a
/// `width x height` RGB8 image, or the image is empty.
pub fn mse_rgb8(
    reference: &[u8],
    distorted: &[u8],
    width: usize,
    height: usize,
) -> Result<f64, MetricError> {
    check_rgb8(reference, distorted, width, height)?;
    let sum: u64 = reference
        .iter()
        .zip(distorted)
        .map(|(&a, &b)| {
            let d = u64::from(a.abs_diff(b));
            d * d
        })
        .sum();
    // u64 sums are exact up to ~2.8e14 samples; the f64 conversions are exact
    // below 2^53 and the division is a single correctly rounded operation.
    Ok(sum as f64 / reference.len() as f64)
}

/// Peak signal-to-noise ratio in dB: `10 * log10(255^2 / MSE)` over all RGB
/// samples (no per-channel averaging), computed in `f64`.
///
/// Identical images have `MSE = 0` and yield `f64::INFINITY`.
///
/// # Errors
/// Same as [`mse_rgb8`].
pub fn psnr_rgb8(
    reference: &[u8],
    distorted: &[u8],
    width: usize,
    height: usize,
) -> Result<f64, MetricError> {
    let mse = mse_rgb8(reference, distorted, width, height)?;
    Ok(psnr_from_mse(mse))
}

/// `10 * log10(255^2 / mse)`; `+inf` for `mse == 0`.
pub(crate) fn psnr_from_mse(mse: f64) -> f64 {
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (DATA_RANGE * DATA_RANGE / mse).log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_is_infinite() {
        let img: Vec<u8> = (0..4 * 3 * 3).map(|i| (i * 7) as u8).collect();
        assert_eq!(mse_rgb8(&img, &img, 4, 3), Ok(0.0));
        assert_eq!(psnr_rgb8(&img, &img, 4, 3), Ok(f64::INFINITY));
    }

    #[test]
    fn known_values() {
        let a = [0u8; 6];
        let b = [255u8, 0, 0, 0, 0, 0];
        let mse = mse_rgb8(&a, &b, 2, 1).unwrap();
        assert_eq!(mse, 255.0 * 255.0 / 6.0);
        let psnr = psnr_rgb8(&a, &b, 2, 1).unwrap();
        assert!((psnr - 10.0 * 6f64.log10()).abs() < 1e-12);
        // Constant difference of 1 -> 20*log10(255).
        let c = [1u8; 6];
        let psnr = psnr_rgb8(&a, &c, 1, 2).unwrap();
        assert!((psnr - 20.0 * 255f64.log10()).abs() < 1e-12);
    }

    #[test]
    fn errors_not_panics() {
        assert!(matches!(
            psnr_rgb8(&[0; 6], &[0; 3], 2, 1),
            Err(MetricError::SizeMismatch { .. })
        ));
        assert!(matches!(
            psnr_rgb8(&[0; 6], &[0; 6], 3, 1),
            Err(MetricError::BufferLength { .. })
        ));
        assert!(matches!(
            mse_rgb8(&[], &[], 0, 0),
            Err(MetricError::EmptyImage { .. })
        ));
    }
}
