//! Tiled synthesis that stays on the device until each tile's pixels: for backends that
//! cannot block on a read-back (WebGPU in a browser reads asynchronously).
//!
//! The plan is the CPU path's ([`synthesis_plan`]: segments, windows, attention passes),
//! but nothing is read back on the way: the outputs of the segments before the last are
//! stitched into a device tensor, the attention means are summed on the device, and the
//! last segment's windows are made one at a time ([`QueuedTiles`] is a lazy iterator),
//! so the caller reads tile `k` back before tile `k + 1` is queued and device memory
//! stays bounded by the tile. The means are summed in `f32` on the device (the CPU path
//! sums in `f64` on the host), so pixels can differ from [`CodecModel::synthesize_tiles`]
//! by ±1, rarely.

use std::ops::Range;

use burn::tensor::{Tensor, TensorData, backend::Backend};

use super::{
    DecodedTile, Features, SEGMENT_BUDGET_BYTES, Window, kept_pixels, rgb_tile, synthesis_plan,
    synthesis_windows, tile_region,
};
use crate::codec::{CodecError, CodecModel, DecodedSymbols, STRIDE, maps_tensor};

/// One tile of [`CodecModel::queued_tiles`]: where it goes and its pixels on the device.
#[derive(Debug)]
pub struct QueuedTile<B: Backend> {
    /// Left edge in the image, in pixels.
    pub x: usize,
    /// Top edge in the image, in pixels.
    pub y: usize,
    /// Width in pixels (cropped to the image).
    pub width: usize,
    /// Height in pixels (cropped to the image).
    pub height: usize,
    /// `[1, 3, height, width]`, values in `0..255` (clamped, not yet rounded).
    pub pixels: Tensor<B, 4>,
}

impl<B: Backend> QueuedTile<B> {
    /// Reads the pixels back (blocking) and rounds them: the tile as
    /// [`CodecModel::synthesize_tiles`] gives it.
    ///
    /// # Errors
    ///
    /// As [`DecodedTile::from_pixels`].
    pub fn finish(self) -> Result<DecodedTile, CodecError> {
        let data = self.pixels.into_data();
        DecodedTile::from_pixels(self.x, self.y, self.width, self.height, data)
    }
}

impl DecodedTile {
    /// The tile at `(x, y)` of `width × height` pixels from the read-back `data` of a
    /// [`QueuedTile`]'s pixels (`[1, 3, height, width]`), rounded to 8 bits.
    ///
    /// # Errors
    ///
    /// [`CodecError::Weights`] if `data` does not hold `3 × height × width` values.
    pub fn from_pixels(
        x: usize,
        y: usize,
        width: usize,
        height: usize,
        data: TensorData,
    ) -> Result<Self, CodecError> {
        let values = super::f32_values(data)?;
        if values.len() != 3 * width * height {
            return Err(CodecError::Weights(format!(
                "a tile gave {} values, expected 3×{height}×{width}",
                values.len()
            )));
        }
        rgb_tile(y..y + height, x..x + width, |r, c, ch| {
            values[(ch * height + r - y) * width + c - x]
        })
    }
}

/// The tiles of a tiled synthesis, made one at a time ([`CodecModel::queued_tiles`]).
pub struct QueuedTiles<'a, B: Backend> {
    model: &'a CodecModel<B>,
    decoded: &'a DecodedSymbols,
    /// The last segment's input on the device (`None`: the code).
    input: Option<Tensor<B, 4>>,
    span: Range<usize>,
    means: Vec<Tensor<B, 2>>,
    plan: Vec<Window>,
    next: usize,
}

impl<B: Backend> std::fmt::Debug for QueuedTiles<'_, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedTiles")
            .field("span", &self.span)
            .field("tiles", &self.plan.len())
            .field("next", &self.next)
            .finish()
    }
}

impl<B: Backend> QueuedTiles<'_, B> {
    /// Tiles in all (made and to come).
    pub fn total(&self) -> usize {
        self.plan.len()
    }
}

impl<B: Backend> Iterator for QueuedTiles<'_, B> {
    type Item = Result<QueuedTile<B>, CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        let win = self.plan.get(self.next)?.clone();
        self.next += 1;
        let input = window_input(self.model, self.decoded, self.input.as_ref(), &win);
        let out = match self
            .model
            .synthesis_span(input, self.span.clone(), &self.means, 1)
        {
            Ok(out) => out,
            Err(_) => return Some(Err(too_many_blocks(&self.span, self.means.len()))),
        };
        let s = STRIDE >> self.span.start;
        let header = &self.decoded.header;
        let (rows, cols) = kept_pixels(&win, (header.width as usize, header.height as usize), s);
        let (oy, ox) = (win.outer_rows.start * s, win.outer_cols.start * s);
        let (height, width) = (rows.len(), cols.len());
        let pixels = out.slice([
            0..1,
            0..3,
            rows.start - oy..rows.end - oy,
            cols.start - ox..cols.end - ox,
        ]);
        Some(Ok(QueuedTile {
            x: cols.start,
            y: rows.start,
            width,
            height,
            pixels,
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.plan.len() - self.next;
        (left, Some(left))
    }
}

impl<B: Backend> ExactSizeIterator for QueuedTiles<'_, B> {}

/// A window's input: the code for a segment from stage 0, else the window's outer rows ×
/// columns of the previous segment's output.
fn window_input<B: Backend>(
    model: &CodecModel<B>,
    decoded: &DecodedSymbols,
    input: Option<&Tensor<B, 4>>,
    win: &Window,
) -> Tensor<B, 4> {
    let (rows, cols) = (win.outer_rows.clone(), win.outer_cols.clone());
    match input {
        None => model.region_code(decoded, rows, cols),
        Some(t) => {
            let c = t.dims()[1];
            t.clone().slice([0..1, 0..c, rows, cols])
        }
    }
}

fn too_many_blocks(span: &Range<usize>, blocks: usize) -> CodecError {
    CodecError::Weights(format!(
        "decoder stages {span:?} have more than {blocks} attention blocks"
    ))
}

impl<B: Backend> CodecModel<B> {
    /// [`Self::synthesize_tiles`] for a backend that reads back asynchronously: the
    /// segments before the last and the attention passes are queued on the device now
    /// (nothing is read back), and the returned iterator queues one tile of the last
    /// segment per call — read each tile's pixels (`into_data_async`, then
    /// [`DecodedTile::from_pixels`]) before asking for the next, so device memory stays
    /// bounded by the tile. The tiles cover the image once, in the CPU path's order.
    ///
    /// # Errors
    ///
    /// [`CodecError::Weights`] if the decoder's attention blocks are not the plan's.
    pub fn queued_tiles<'a>(
        &'a self,
        decoded: &'a DecodedSymbols,
        tile: usize,
    ) -> Result<QueuedTiles<'a, B>, CodecError> {
        let (lh, lw) = decoded.header.latent_size();
        let (lh, lw) = (lh as usize, lw as usize);
        let plan = synthesis_plan(&self.config, lh, lw, tile, SEGMENT_BUDGET_BYTES);
        let count = plan.len();
        let mut input: Option<Tensor<B, 4>> = None;
        for (i, segment) in plan.into_iter().enumerate() {
            let wins = synthesis_windows(&self.config, &segment, lh, lw);
            let span = segment.stages;
            let scale = 1 << span.start;
            let run = |win: &Window, means: &[Tensor<B, 2>]| {
                let x = window_input(self, decoded, input.as_ref(), win);
                self.synthesis_span(x, span.clone(), means, 1)
            };
            let means = device_means(&wins, segment.attention_blocks, &run, self.device())?;
            if i + 1 == count {
                return Ok(QueuedTiles {
                    model: self,
                    decoded,
                    input,
                    span,
                    means,
                    plan: wins,
                    next: 0,
                });
            }
            let grow = 1 << span.len();
            let channels = self.config.decoder.features[span.end];
            let shape = [1, channels, lh * scale * grow, lw * scale * grow];
            let mut output = Tensor::<B, 4>::zeros(shape, self.device());
            for win in &wins {
                let out = run(win, &means).map_err(|_| too_many_blocks(&span, means.len()))?;
                let at = |r: &Range<usize>, o: &Range<usize>| {
                    (r.start - o.start) * grow..(r.end - o.start) * grow
                };
                let kept = out.slice([
                    0..1,
                    0..channels,
                    at(&win.rows, &win.outer_rows),
                    at(&win.cols, &win.outer_cols),
                ]);
                let to = |r: &Range<usize>| r.start * grow..r.end * grow;
                output =
                    output.slice_assign([0..1, 0..channels, to(&win.rows), to(&win.cols)], kept);
            }
            input = Some(output);
        }
        Err(CodecError::Weights("the decoder has no stages".into()))
    }
}

/// The whole image's attention means of a segment (as the CPU path's
/// `attention_means`), summed on the device: pass `i < blocks` runs every window up to
/// attention block `i` and adds its tile's per-channel sums.
fn device_means<B: Backend>(
    plan: &[Window],
    blocks: usize,
    run: &impl Fn(&Window, &[Tensor<B, 2>]) -> Result<Tensor<B, 4>, Features<B>>,
    device: &B::Device,
) -> Result<Vec<Tensor<B, 2>>, CodecError> {
    let mut means: Vec<Tensor<B, 2>> = Vec::with_capacity(blocks);
    for pass in 0..blocks {
        let mut sum: Option<Tensor<B, 2>> = None;
        let mut positions = 0usize;
        for win in plan {
            let features = match run(win, &means) {
                Err(Features::Tensor(t)) => t,
                Err(Features::Maps(m)) => maps_tensor(&m, device),
                Ok(_) => {
                    return Err(CodecError::Weights(format!(
                        "the network has {pass} attention blocks, not {blocks}"
                    )));
                }
            };
            let [_, c, h, _] = features.dims();
            let (rows, cols) = tile_region(win, h);
            positions += rows.len() * cols.len();
            let tile = features
                .slice([0..1, 0..c, rows, cols])
                .sum_dim(3)
                .sum_dim(2)
                .reshape([1, c]);
            sum = Some(match sum {
                None => tile,
                Some(s) => s + tile,
            });
        }
        let sum = sum.ok_or_else(|| CodecError::Weights("no windows to pool".into()))?;
        means.push(sum.div_scalar(positions.max(1) as f32));
    }
    Ok(means)
}
