//! Tiled synthesis: the decoder run over overlapping windows of the latent and stitched,
//! so that memory depends on the tile, not on the photo.
//!
//! A window is a tile of `T × T` latent positions (`16T × 16T` pixels) plus a halo of
//! [`synthesis_halo`] positions on every side that has a neighbour. The halo covers the
//! decoder's whole receptive field, so every pixel kept from a window is computed from
//! the same inputs as in the whole-image synthesis; only the order of float summation
//! inside the convolutions can differ. That holds only for decoders without channel
//! attention ([`AttentionKind::None`]): attention pools over the whole image.
//!
//! The symbols, and so the `.cvq` bytes, do not depend on tiling at all.

use std::ops::Range;

use burn::tensor::backend::Backend;

use crate::codec::{CodecError, CodecModel, DecodedSymbols, RgbImage, STRIDE};
use crate::config::{AttentionKind, CvqnConfig};
use crate::model::decoder::decoder_stage_widths;
use crate::model::encoder::encoder_stage_widths;

/// The decoder's receptive-field radius in latent positions (rounded up), or `None`
/// when the decoder pools globally (residual blocks with channel attention) and tiles
/// cannot be exact.
///
/// Every 3×3 convolution widens the field by one position at its resolution: the head
/// at the latent's (16 px), each stage's convolution and residual group (`2·blocks + 1`
/// convolutions) at `16 / 2^t` px, the tail at 1 px. GDN, gains and the pixel shuffle
/// act per position.
pub fn synthesis_halo(cfg: &CvqnConfig) -> Option<usize> {
    if cfg.decoder.attention != AttentionKind::None && cfg.decoder.blocks.iter().any(|&b| b > 0) {
        return None;
    }
    let mut pixels = STRIDE; // head
    for (t, (_, _, blocks)) in decoder_stage_widths(&cfg.decoder).into_iter().enumerate() {
        pixels += (2 + 2 * blocks) * (STRIDE >> t);
    }
    pixels += 1; // tail
    Some(pixels.div_ceil(STRIDE))
}

/// One window of a tiled synthesis, in latent positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Rows of the tile whose pixels are kept.
    pub rows: Range<usize>,
    /// Columns of the tile whose pixels are kept.
    pub cols: Range<usize>,
    /// Rows the decoder runs on (the tile plus the halo, inside the latent).
    pub outer_rows: Range<usize>,
    /// Columns the decoder runs on.
    pub outer_cols: Range<usize>,
}

/// The windows covering an `lh × lw` latent with tiles of `tile` positions and a halo of
/// `halo`, row by row. `tile` must be at least 1.
pub fn windows(lh: usize, lw: usize, tile: usize, halo: usize) -> Vec<Window> {
    let spans = |n: usize| -> Vec<(Range<usize>, Range<usize>)> {
        (0..n)
            .step_by(tile.max(1))
            .map(|a| {
                let b = (a + tile.max(1)).min(n);
                (a..b, a.saturating_sub(halo)..(b + halo).min(n))
            })
            .collect()
    };
    let (rows, cols) = (spans(lh), spans(lw));
    rows.iter()
        .flat_map(|(r, or)| {
            cols.iter().map(move |(c, oc)| Window {
                rows: r.clone(),
                cols: c.clone(),
                outer_rows: or.clone(),
                outer_cols: oc.clone(),
            })
        })
        .collect()
}

/// The encoder's receptive-field radius in latent positions (rounded up), or `None`
/// when it pools globally (residual blocks with channel attention).
///
/// The head convolution at full resolution (1 px), then per stage `t` (after a
/// space-to-depth to `1/2^(t+1)`) the residual group and the stage convolution
/// (`2·blocks + 2` convolutions of `2^(t+1)` px), then the tail at 16 px.
pub fn analysis_halo(cfg: &CvqnConfig) -> Option<usize> {
    if cfg.encoder.attention != AttentionKind::None && cfg.encoder.blocks.iter().any(|&b| b > 0) {
        return None;
    }
    let mut pixels = 1; // head
    for (t, (_, blocks, _)) in encoder_stage_widths(&cfg.encoder).into_iter().enumerate() {
        pixels += (2 + 2 * blocks) << (t + 1);
    }
    pixels += STRIDE; // tail
    Some(pixels.div_ceil(STRIDE))
}

/// Runs `work` on every window of `plan` on `threads` scoped threads (at least 1) and
/// hands each result to `stitch` on the calling thread, as results arrive. At most
/// `threads` finished results wait to be stitched; the first error stops the run.
fn run_windows<T: Send>(
    plan: &[Window],
    threads: usize,
    work: impl Fn(&Window) -> Result<T, CodecError> + Sync,
    mut stitch: impl FnMut(usize, &Window, T),
) -> Result<(), CodecError> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel(threads.max(1));
        for _ in 0..threads.max(1) {
            let (tx, next, work) = (tx.clone(), &next, &work);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(win) = plan.get(i) else { break };
                    let out = work(win);
                    let failed = out.is_err();
                    if tx.send((i, out)).is_err() || failed {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (done, (i, out)) in rx.into_iter().enumerate() {
            stitch(done, &plan[i], out?);
        }
        Ok(())
    })
}

/// A tensor's values as `f32` (a tile's pixels or latent).
pub(crate) fn f32_values(data: burn::tensor::TensorData) -> Result<Vec<f32>, CodecError> {
    data.convert::<f32>()
        .into_vec::<f32>()
        .map_err(|e| CodecError::Weights(format!("reading pixels: {e:?}")))
}

impl<B: Backend> CodecModel<B> {
    /// Synthesises decoded symbols tile by tile (`tile` latent positions = `16·tile`
    /// pixels a side) on `threads` worker threads (at least 1) and stitches the tiles:
    /// the whole-image result up to float summation order, with peak memory set by the
    /// tile and the thread count. `progress` is called on the calling thread after each
    /// window is stitched, with `(done, total)`.
    ///
    /// # Errors
    ///
    /// [`CodecError::NotTileable`] for a decoder with channel attention;
    /// [`CodecError::Weights`] if the backend's output cannot be read.
    pub fn synthesize_tiled(
        &self,
        decoded: &DecodedSymbols,
        tile: usize,
        threads: usize,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<RgbImage, CodecError> {
        let halo = synthesis_halo(&self.config).ok_or_else(|| CodecError::NotTileable {
            model: self.id_string(),
        })?;
        let header = &decoded.header;
        let (lh, lw) = header.latent_size();
        let (w, h) = (header.width as usize, header.height as usize);
        let mut rgb = vec![0u8; 3 * w * h];
        let plan = windows(lh as usize, lw as usize, tile, halo);
        run_windows(
            &plan,
            threads,
            |win| {
                f32_values(
                    self.synthesis_region(decoded, win.outer_rows.clone(), win.outer_cols.clone())
                        .into_data(),
                )
            },
            |done, win, pixels| {
                stitch_pixels(&mut rgb, (w, h), win, &pixels);
                progress(done + 1, plan.len());
            },
        )?;
        RgbImage::new(w, h, rgb)
    }

    /// The encoder's output for `image` computed tile by tile (`tile` latent positions
    /// a side, windows of the edge-padded input with [`analysis_halo`]) on `threads`
    /// threads: `[1, C, ⌈H/16⌉, ⌈W/16⌉]`, the whole-image latent up to float summation
    /// order.
    ///
    /// # Errors
    ///
    /// [`CodecError::NotTileable`] for an encoder with channel attention or a
    /// decoder-only model; [`CodecError::Weights`] if the backend's output cannot be read.
    pub fn analyze_tiled(
        &self,
        image: &RgbImage,
        tile: usize,
        threads: usize,
    ) -> Result<burn::tensor::Tensor<B, 4>, CodecError> {
        let not_tileable = || CodecError::NotTileable {
            model: self.id_string(),
        };
        let model = self.model.as_ref().ok_or_else(not_tileable)?;
        let halo = analysis_halo(&self.config).ok_or_else(not_tileable)?;
        let (lh, lw) = (image.height.div_ceil(STRIDE), image.width.div_ceil(STRIDE));
        let c = self.config.code_channels;
        let mut latent = vec![0f32; c * lh * lw];
        let plan = windows(lh, lw, tile, halo);
        let device = self.device();
        run_windows(
            &plan,
            threads,
            |win| {
                let px = |r: &Range<usize>| r.start * STRIDE..r.end * STRIDE;
                let input = crate::codec::image_region_to_tensor::<B>(
                    image,
                    px(&win.outer_rows),
                    px(&win.outer_cols),
                    device,
                );
                f32_values(model.encoder.forward(input).into_data())
            },
            |_, win, values| {
                let (oh, ow) = (win.outer_rows.len(), win.outer_cols.len());
                for ch in 0..c {
                    for y in win.rows.clone() {
                        let src = (ch * oh + y - win.outer_rows.start) * ow;
                        let (a, b) = (
                            src + win.cols.start - win.outer_cols.start,
                            src + win.cols.end - win.outer_cols.start,
                        );
                        let dst = (ch * lh + y) * lw;
                        latent[dst + win.cols.start..dst + win.cols.end]
                            .copy_from_slice(&values[a..b]);
                    }
                }
            },
        )?;
        Ok(burn::tensor::Tensor::from_data(
            burn::tensor::TensorData::new(latent, [1, c, lh, lw]),
            device,
        ))
    }
}

/// Copies the kept part of a window's synthesis (`[3, 16·outer rows, 16·outer cols]`,
/// values in `0..255`) into an interleaved RGB image of `w × h`, rounding (the
/// whole-image case is one window: [`pixels_to_image`](crate::codec::pixels_to_image)).
pub(crate) fn stitch_pixels(rgb: &mut [u8], (w, h): (usize, usize), win: &Window, pixels: &[f32]) {
    let (oh, ow) = (win.outer_rows.len() * STRIDE, win.outer_cols.len() * STRIDE);
    let (oy, ox) = (win.outer_rows.start * STRIDE, win.outer_cols.start * STRIDE);
    for y in win.rows.start * STRIDE..(win.rows.end * STRIDE).min(h) {
        for x in win.cols.start * STRIDE..(win.cols.end * STRIDE).min(w) {
            for c in 0..3 {
                let v = pixels[(c * oh + y - oy) * ow + x - ox];
                rgb[(y * w + x) * 3 + c] = libm::roundf(v).clamp(0.0, 255.0) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;

    #[test]
    fn windows_cover_the_latent_once_with_a_clamped_halo() {
        let plan = windows(5, 7, 3, 2);
        assert_eq!(plan.len(), 2 * 3);
        let mut seen = [0; 5 * 7];
        for win in &plan {
            assert!(win.outer_rows.start <= win.rows.start && win.rows.end <= win.outer_rows.end);
            assert!(win.outer_rows.end <= 5 && win.outer_cols.end <= 7);
            for y in win.rows.clone() {
                for x in win.cols.clone() {
                    seen[y * 7 + x] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
        assert_eq!(plan[0].outer_rows, 0..5);
        assert_eq!(plan[4].cols, 3..6);
        assert_eq!(plan[4].outer_cols, 1..7);
    }

    #[test]
    fn analysis_halo_of_the_variable_rate_layout() {
        let mut cfg = CvqnConfig::preset(Preset::Tiny);
        cfg.encoder.blocks = [0, 1, 1, 1];
        assert_eq!(
            analysis_halo(&cfg),
            None,
            "Sigmoid attention pools globally"
        );
        cfg.encoder.attention = AttentionKind::None;
        // 1 + 2·2 + 4·4 + 4·8 + 4·16 + 16 = 133 px → 9 positions
        assert_eq!(analysis_halo(&cfg), Some(9));
    }

    #[test]
    fn halo_needs_a_local_decoder_and_grows_with_depth() {
        let mut cfg = CvqnConfig::preset(Preset::Tiny);
        // blocks [0; 4] (no residual block, so no attention runs):
        // head 16 + 2·(16 + 8 + 4 + 2) + tail 1 = 77 px → 5 positions
        assert_eq!(synthesis_halo(&cfg), Some(5));
        cfg.decoder.blocks = [1, 1, 1, 0];
        assert_eq!(
            synthesis_halo(&cfg),
            None,
            "Sigmoid attention pools globally"
        );
        cfg.decoder.attention = AttentionKind::None;
        // 16 + 4·16 + 4·8 + 4·4 + 2·2 + 1 = 133 px → 9 positions
        assert_eq!(synthesis_halo(&cfg), Some(9));
    }
}
