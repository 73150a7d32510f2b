//! Tiled synthesis: the decoder run over overlapping windows of the latent and stitched,
//! so that memory depends on the tile, not on the photo.
//!
//! A window is a tile of `T × T` latent positions (`16T × 16T` pixels) plus a halo on
//! every side that has a neighbour. The halo covers the receptive field of the layers
//! the window runs through, so every pixel kept from a window is computed from the same
//! inputs as in the whole-image synthesis; only the order of float summation inside the
//! convolutions can differ.
//!
//! The decoder runs in *segments* ([`synthesis_segments`]): spans of its stages, each run
//! window by window over the whole image. The output of every segment but the last is
//! kept whole (as `f32`, at most [`SEGMENT_BUDGET_BYTES`]) and is the next segment's
//! input, cut into windows with the next segment's (smaller) halo. A stage's output is
//! small at low resolution — 24 MB after stage 0 and 48 MB after stage 1 of a 12 MP
//! photo with the compact decoder — so keeping it costs less memory than one
//! full-resolution tile set, and the work of a window shrinks to its tile and a few
//! positions around it.
//!
//! Channel attention pools over the whole image, so a segment with attention blocks runs
//! in passes: pass `i` runs every window up to the input of the segment's attention
//! block `i` (the means of blocks `0..i` given, as gathered by the passes before), sums
//! that input over the window's tile and adds the sums up into the whole image's mean;
//! the last pass runs every window to the segment's end with all means given. A pass
//! starts from the segment's input, so with the boundaries kept it repeats only the
//! segment's own layers.
//!
//! The symbols, and so the `.cvq` bytes, do not depend on tiling at all.

use std::ops::Range;

use burn::tensor::{Tensor, backend::Backend};

use crate::codec::{CodecError, CodecModel, DecodedSymbols, RgbImage, STRIDE};
use crate::config::{AttentionKind, CvqnConfig};
use crate::model::cpu::Means;
use crate::model::decoder::{STAGES, decoder_stage_widths};
use crate::model::encoder::encoder_stage_widths;
use cvq_kernels::Maps;

mod device;
pub use device::{QueuedTile, QueuedTiles};

/// Channel-attention blocks of the decoder (each needs one whole-image mean).
pub fn synthesis_attention_blocks(cfg: &CvqnConfig) -> usize {
    span_attention_blocks(cfg, 0..STAGES)
}

/// Channel-attention blocks of the decoder stages `span` (one pass of tiled synthesis
/// each, before the pass that runs the span to its end).
pub fn span_attention_blocks(cfg: &CvqnConfig, span: Range<usize>) -> usize {
    if cfg.decoder.attention == AttentionKind::None {
        return 0;
    }
    cfg.decoder.blocks[span].iter().sum()
}

/// The decoder's receptive-field radius in latent positions (rounded up), channel
/// attention aside (its gates come from whole-image means, see the module docs):
/// [`span_halo`] of all stages.
pub fn synthesis_halo(cfg: &CvqnConfig) -> usize {
    span_halo(cfg, 0..STAGES)
}

/// The receptive-field radius of the decoder stages `span`, in positions of the span's
/// input (`2^span.start` per latent position), rounded up.
///
/// Every 3×3 convolution widens the field by one position at its resolution: the head
/// (in a span from stage 0) at the latent's (16 px), each stage's convolution and
/// residual group (`2·blocks + 1` convolutions) at `16 / 2^t` px, the tail (in a span
/// that ends the decoder) at 1 px. GDN, gains and the pixel shuffle act per position.
pub fn span_halo(cfg: &CvqnConfig, span: Range<usize>) -> usize {
    let mut pixels = if span.start == 0 { STRIDE } else { 0 }; // head
    let stages = decoder_stage_widths(&cfg.decoder);
    for t in span.clone() {
        pixels += (2 + 2 * stages[t].2) * (STRIDE >> t);
    }
    if span.end == STAGES {
        pixels += 1; // tail
    }
    pixels.div_ceil(STRIDE >> span.start)
}

/// At most this many bytes of a stage's output are kept whole between two segments of a
/// tiled synthesis ([`synthesis_segments`]); larger outputs are recomputed window by
/// window instead, so that memory stays bounded whatever the photo's size.
pub const SEGMENT_BUDGET_BYTES: usize = 64 << 20;

/// The segments of a tiled synthesis of an `lh × lw` latent (module docs): spans of
/// decoder stages covering `0..STAGES` in order. A segment ends after stage `t < 3`
/// when its output (`F_{t+1}` channels at `2^(t+1)` positions per latent position, as
/// `f32`) fits in `budget` bytes ([`SEGMENT_BUDGET_BYTES`] by default; 0 runs the whole
/// decoder per window).
pub fn synthesis_segments(
    cfg: &CvqnConfig,
    lh: usize,
    lw: usize,
    budget: usize,
) -> Vec<Range<usize>> {
    let f = cfg.decoder.features;
    segments_within(budget, |t| output_bytes(f[t + 1], lh, lw, 1 << (t + 1)))
}

/// Bytes of `channels` `f32` maps of `side × side` positions per latent position of an
/// `lh × lw` latent.
fn output_bytes(channels: usize, lh: usize, lw: usize, side: usize) -> usize {
    channels
        .saturating_mul(lh * side)
        .saturating_mul(lw * side)
        .saturating_mul(4)
}

/// Spans of stages covering `0..STAGES` in order, cut after each stage `t < 3` whose
/// output (`bytes(t)`) fits in `budget` bytes.
fn segments_within(budget: usize, bytes: impl Fn(usize) -> usize) -> Vec<Range<usize>> {
    let mut cuts = vec![0];
    cuts.extend(
        (0..STAGES - 1)
            .filter(|&t| bytes(t) <= budget)
            .map(|t| t + 1),
    );
    cuts.push(STAGES);
    cuts.windows(2).map(|c| c[0]..c[1]).collect()
}

/// Segments with their tiles: the segment at `full` (the one at full resolution) takes
/// `tile`; every other works at lower resolution, so it takes tiles `2^k` times larger,
/// as large as keeps its widest activation (`widest(span)` floats per latent position)
/// within the widest of the whole network on a `tile` window. `blocks(span)`: its
/// attention blocks.
fn plan_of(
    segments: Vec<Range<usize>>,
    full: usize,
    tile: usize,
    widest: impl Fn(Range<usize>) -> usize,
    blocks: impl Fn(Range<usize>) -> usize,
) -> Vec<Segment> {
    let all = widest(0..STAGES);
    segments
        .into_iter()
        .enumerate()
        .map(|(i, stages)| {
            let mut grow = 0;
            if i != full {
                while (widest(stages.clone()) << (2 * (grow + 1))) <= all && grow < 8 {
                    grow += 1;
                }
            }
            Segment {
                attention_blocks: blocks(stages.clone()),
                tile: tile.max(1) << grow,
                stages,
            }
        })
        .collect()
}

/// One segment of a tiled synthesis ([`synthesis_plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The decoder stages it runs.
    pub stages: Range<usize>,
    /// Its tile side in latent positions.
    pub tile: usize,
    /// Its channel-attention blocks (one pass over its windows each, then one more).
    pub attention_blocks: usize,
}

impl Segment {
    /// Windows it runs over an `lh × lw` latent, all passes.
    pub fn windows(&self, lh: usize, lw: usize) -> usize {
        (self.attention_blocks + 1) * tile_count(lh, lw, self.tile)
    }
}

/// The plan of a tiled synthesis of an `lh × lw` latent with tiles of `tile` latent
/// positions and a segment budget of `budget` bytes: the [`synthesis_segments`], each
/// with its tile. The last segment (which makes the pixels) uses `tile`; an earlier one
/// works at lower resolution, so it takes tiles `2^k` times larger, as large as keeps
/// its widest activation (channels × positions) within the widest of the whole decoder
/// on a `tile` window: its halo then costs less, and its windows are fewer.
pub fn synthesis_plan(
    cfg: &CvqnConfig,
    lh: usize,
    lw: usize,
    tile: usize,
    budget: usize,
) -> Vec<Segment> {
    let widths = decoder_stage_widths(&cfg.decoder);
    let segments = synthesis_segments(cfg, lh, lw, budget);
    let last = segments.len() - 1;
    // Stage `t` works on `width` channels at `4^t` positions per latent position.
    let widest = |span: Range<usize>| {
        span.map(|t| widths[t].1 << (2 * t))
            .max()
            .unwrap_or(1)
            .max(1)
    };
    plan_of(segments, last, tile, widest, |span| {
        span_attention_blocks(cfg, span)
    })
}

/// The windows of a synthesis segment over an `lh × lw` latent, in positions of the
/// segment's input, with the segment's halo.
pub(crate) fn synthesis_windows(
    cfg: &CvqnConfig,
    segment: &Segment,
    lh: usize,
    lw: usize,
) -> Vec<Window> {
    let scale = 1 << segment.stages.start;
    windows(
        lh * scale,
        lw * scale,
        segment.tile * scale,
        span_halo(cfg, segment.stages.clone()),
    )
}

/// Tiles of `tile` latent positions a side covering an `lh × lw` latent.
pub fn tile_count(lh: usize, lw: usize, tile: usize) -> usize {
    lh.div_ceil(tile.max(1)) * lw.div_ceil(tile.max(1))
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

/// Channel-attention blocks of the encoder (one pass of tiled analysis each).
pub fn analysis_attention_blocks(cfg: &CvqnConfig) -> usize {
    analysis_span_attention_blocks(cfg, 0..STAGES)
}

/// The encoder's receptive-field radius in latent positions (rounded up), channel
/// attention aside (as [`synthesis_halo`]): [`analysis_span_halo`] of all stages.
pub fn analysis_halo(cfg: &CvqnConfig) -> usize {
    analysis_span_halo(cfg, 0..STAGES)
}

/// The receptive-field radius of the encoder stages `span`, in positions of the span's
/// output (`2^|span|` input positions each), rounded up.
///
/// In positions of the span's input (`2^span.start` pixels each): the head convolution
/// at full resolution (in a span from stage 0: 1), then per stage `t` (after a
/// space-to-depth to `1/2^(t+1)`) the residual group and the stage convolution
/// (`2·blocks + 2` convolutions of `2^(t+1)` px), then the tail (in a span that ends the
/// encoder) at 16 px.
pub fn analysis_span_halo(cfg: &CvqnConfig, span: Range<usize>) -> usize {
    let stages = encoder_stage_widths(&cfg.encoder);
    let mut input = usize::from(span.start == 0); // head
    for t in span.clone() {
        input += (2 + 2 * stages[t].1) << (t + 1 - span.start);
    }
    if span.end == STAGES {
        input += STRIDE >> span.start; // tail
    }
    input.div_ceil(1 << span.len())
}

/// Channel-attention blocks of the encoder stages `span` (one pass of tiled analysis
/// each, before the pass that runs the span to its end).
pub fn analysis_span_attention_blocks(cfg: &CvqnConfig, span: Range<usize>) -> usize {
    if cfg.encoder.attention == AttentionKind::None {
        return 0;
    }
    cfg.encoder.blocks[span].iter().sum()
}

/// The segments of a tiled analysis of an image of `lh × lw` latent positions: spans
/// of encoder stages covering `0..STAGES` in order (as [`synthesis_segments`]). A
/// segment ends after stage `t < 3` when its output (`F_{t+1}` channels at
/// `2^(3−t)` positions a side per latent position, as `f32`) fits in `budget` bytes.
pub fn analysis_segments(
    cfg: &CvqnConfig,
    lh: usize,
    lw: usize,
    budget: usize,
) -> Vec<Range<usize>> {
    let stages = encoder_stage_widths(&cfg.encoder);
    segments_within(budget, |t| output_bytes(stages[t].2, lh, lw, 1 << (3 - t)))
}

/// The plan of a tiled analysis (as [`synthesis_plan`]): the [`analysis_segments`],
/// each with its tile in latent positions. The first segment (from the pixels) uses
/// `tile`; a later one works at lower resolution, so it takes tiles `2^k` times larger,
/// as large as keeps its widest activation within the widest of the whole encoder on a
/// `tile` window.
pub fn analysis_plan(
    cfg: &CvqnConfig,
    lh: usize,
    lw: usize,
    tile: usize,
    budget: usize,
) -> Vec<Segment> {
    let stages = encoder_stage_widths(&cfg.encoder);
    // Stage `t` works on `width` channels at `4^(3−t)` positions per latent position.
    let widest = |span: Range<usize>| {
        span.map(|t| stages[t].0 << (2 * (3 - t)))
            .max()
            .unwrap_or(1)
            .max(1)
    };
    let segments = analysis_segments(cfg, lh, lw, budget);
    plan_of(segments, 0, tile, widest, |span| {
        analysis_span_attention_blocks(cfg, span)
    })
}

/// Runs `work` on every window of `plan` on `threads` scoped threads and hands each
/// result to `stitch` on the calling thread, as results arrive. At most `threads`
/// finished results wait to be stitched; the first error stops the run. With
/// `threads ≤ 1` everything runs on the calling thread, in order (no thread is spawned:
/// WebAssembly in a browser has none).
fn run_windows<T: Send>(
    plan: &[Window],
    threads: usize,
    work: impl Fn(&Window) -> Result<T, CodecError> + Sync,
    mut stitch: impl FnMut(usize, &Window, T),
) -> Result<(), CodecError> {
    if threads <= 1 {
        for (done, win) in plan.iter().enumerate() {
            stitch(done, win, work(win)?);
        }
        return Ok(());
    }
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
    /// tile, the thread count and the stage outputs kept between segments (at most
    /// [`SEGMENT_BUDGET_BYTES`] each). The decoder runs in segments, and a segment with
    /// channel attention first gathers the whole image's means, one pass over its
    /// windows per attention block (module docs). `progress` is called on the calling
    /// thread after each window of every pass, with `(done, total)` over all windows of
    /// the [`synthesis_plan`].
    ///
    /// # Errors
    ///
    /// [`CodecError::Weights`] if the backend's output cannot be read.
    pub fn synthesize_tiled(
        &self,
        decoded: &DecodedSymbols,
        tile: usize,
        threads: usize,
        progress: impl FnMut(usize, usize),
    ) -> Result<RgbImage, CodecError> {
        let (w, h) = (
            decoded.header.width as usize,
            decoded.header.height as usize,
        );
        let mut rgb = vec![0u8; 3 * w * h];
        self.synthesize_tiles(decoded, tile, threads, progress, |t| {
            for (y, row) in t.image.data.chunks_exact(3 * t.image.width).enumerate() {
                let at = 3 * ((t.y + y) * w + t.x);
                rgb[at..at + row.len()].copy_from_slice(row);
            }
        })?;
        RgbImage::new(w, h, rgb)
    }

    /// As [`Self::synthesize_tiled`], handing each finished tile to `each` (on the
    /// calling thread, in the order they finish) instead of stitching: a viewer paints
    /// them as they come, and only one tile's pixels are held at a time. The tiles cover
    /// the image once (the last row and column are cropped to its size).
    ///
    /// # Errors
    ///
    /// As [`Self::synthesize_tiled`].
    pub fn synthesize_tiles(
        &self,
        decoded: &DecodedSymbols,
        tile: usize,
        threads: usize,
        progress: impl FnMut(usize, usize),
        each: impl FnMut(DecodedTile),
    ) -> Result<(), CodecError> {
        let budget = SEGMENT_BUDGET_BYTES;
        self.synthesize_tiles_within(decoded, tile, threads, budget, progress, each)
    }

    /// As [`Self::synthesize_tiles`] keeping at most `budget` bytes of each stage output
    /// between segments ([`synthesis_segments`]): less memory for large photos, more
    /// work (0 runs every window through the whole decoder, once per attention block
    /// and once more).
    ///
    /// # Errors
    ///
    /// As [`Self::synthesize_tiled`].
    pub fn synthesize_tiles_within(
        &self,
        decoded: &DecodedSymbols,
        tile: usize,
        threads: usize,
        budget: usize,
        mut progress: impl FnMut(usize, usize),
        mut each: impl FnMut(DecodedTile),
    ) -> Result<(), CodecError> {
        let header = &decoded.header;
        let (lh, lw) = header.latent_size();
        let (lh, lw) = (lh as usize, lw as usize);
        let size = (header.width as usize, header.height as usize);
        let plan = synthesis_plan(&self.config, lh, lw, tile, budget);
        let total = plan.iter().map(|seg| seg.windows(lh, lw)).sum();
        let device = self.device();
        let mut done = 0;
        // Threads of each convolution of the CPU kernels: their share of the tiles'.
        let inner_threads = self
            .cpu_kernel_threads()
            .map_or(1, |t| (t / threads.max(1)).max(1));
        // The current segment's input: the code (`None`), or the last segment's output.
        let mut input: Option<Planes> = None;
        for segment in plan {
            let plan = synthesis_windows(&self.config, &segment, lh, lw);
            let span = segment.stages;
            // Positions of the span's input per latent position.
            let scale = 1 << span.start;
            let window_input = |win: &Window| match &input {
                None => self.region_code(decoded, win.outer_rows.clone(), win.outer_cols.clone()),
                Some(planes) => planes.window(win, device),
            };
            let run = |win: &Window, means: &[Tensor<B, 2>]| {
                self.synthesis_span(window_input(win), span.clone(), means, inner_threads)
            };
            let blocks = segment.attention_blocks;
            let means = attention_means(
                &plan,
                threads,
                blocks,
                run,
                |d| progress(done + d, total),
                device,
            )?;
            done += blocks * plan.len();
            let last = |win: &Window| {
                run(win, &means).map_err(|_| {
                    CodecError::Weights(format!(
                        "decoder stages {span:?} have more than {blocks} attention blocks"
                    ))
                })
            };
            if span.end == STAGES {
                let per_position = STRIDE >> span.start;
                run_windows(
                    &plan,
                    threads,
                    |win| {
                        tile_of(
                            win,
                            &f32_values(last(win)?.into_data())?,
                            size,
                            per_position,
                        )
                    },
                    |d, _, tile| {
                        each(tile);
                        progress(done + d + 1, total);
                    },
                )?;
                input = None;
            } else {
                let grow = 1 << span.len();
                let channels = self.config.decoder.features[span.end];
                let mut output = Planes::zeros(channels, lh * scale * grow, lw * scale * grow);
                run_windows(
                    &plan,
                    threads,
                    |win| f32_values(last(win)?.into_data()),
                    |d, win, values| {
                        output.put(win, grow, &values);
                        progress(done + d + 1, total);
                    },
                )?;
                input = Some(output);
            }
            done += plan.len();
        }
        Ok(())
    }

    /// The encoder's output for `image` computed tile by tile (`tile` latent positions
    /// a side, windows of the edge-padded input with the receptive field's halo) on
    /// `threads` threads: `[1, C, ⌈H/16⌉, ⌈W/16⌉]`, the whole-image latent (bit for
    /// bit on the CPU kernels, up to float summation order on Burn). The encoder runs
    /// in segments ([`analysis_plan`]: stage outputs of at most
    /// [`SEGMENT_BUDGET_BYTES`] are kept whole between them), and a segment with channel
    /// attention first gathers the whole image's means, one pass over its windows per
    /// attention block (as [`Self::synthesize_tiled`]).
    ///
    /// # Errors
    ///
    /// [`CodecError::NotTileable`] for a decoder-only model; [`CodecError::Weights`] if
    /// the backend's output cannot be read.
    pub fn analyze_tiled(
        &self,
        image: &RgbImage,
        tile: usize,
        threads: usize,
    ) -> Result<burn::tensor::Tensor<B, 4>, CodecError> {
        self.analyze_tiled_within(image, tile, threads, SEGMENT_BUDGET_BYTES)
    }

    /// As [`Self::analyze_tiled`] keeping at most `budget` bytes of each stage output
    /// between segments (0 runs every window through the whole encoder, once per
    /// attention block and once more).
    ///
    /// # Errors
    ///
    /// As [`Self::analyze_tiled`].
    pub fn analyze_tiled_within(
        &self,
        image: &RgbImage,
        tile: usize,
        threads: usize,
        budget: usize,
    ) -> Result<burn::tensor::Tensor<B, 4>, CodecError> {
        let not_tileable = || CodecError::NotTileable {
            model: self.id_string(),
        };
        let model = self.model.as_ref().ok_or_else(not_tileable)?;
        let (lh, lw) = (image.height.div_ceil(STRIDE), image.width.div_ceil(STRIDE));
        let device = self.device();
        let kernels = self
            .cpu_encoder()
            .map(|(k, t)| (k, (t / threads.max(1)).max(1)));
        // The current segment's input: the image (`None`), or the last segment's output.
        let mut input: Option<Planes> = None;
        for segment in analysis_plan(&self.config, lh, lw, tile, budget) {
            let span = segment.stages;
            // Output positions per latent position, input positions per output position.
            let scale = 1 << (STAGES - span.end);
            let grow = 1 << span.len();
            let plan = windows(
                lh * scale,
                lw * scale,
                segment.tile * scale,
                analysis_span_halo(&self.config, span.clone()),
            );
            let inner = |win: &Window| {
                let scaled = |r: &Range<usize>| r.start * grow..r.end * grow;
                (scaled(&win.outer_rows), scaled(&win.outer_cols))
            };
            let run = |win: &Window, means: &[Tensor<B, 2>]| {
                let (rows, cols) = inner(win);
                if let Some((kernels, inner_threads)) = kernels
                    && let Some(given) = mean_values(means)
                {
                    let x = match &input {
                        None => crate::codec::image_region_maps(image, rows, cols),
                        Some(planes) => planes.maps(rows, cols),
                    };
                    return kernels
                        .forward_span(x, span.clone(), Means::Given(&given), inner_threads)
                        .map(|m| crate::codec::maps_tensor(&m, device))
                        .map_err(Features::Maps);
                }
                let x = match &input {
                    None => crate::codec::image_region_to_tensor::<B>(image, rows, cols, device),
                    Some(planes) => planes.region(rows, cols, device),
                };
                let mut pool = crate::model::layers::attention::GivenMeans::new(means);
                model
                    .encoder
                    .forward_span(x, span.clone(), &mut pool)
                    .map_err(Features::Tensor)
            };
            let blocks = segment.attention_blocks;
            let means = attention_means(&plan, threads, blocks, run, |_| {}, device)?;
            let channels = match span.end {
                STAGES => self.config.code_channels,
                end => encoder_stage_widths(&self.config.encoder)[end - 1].2,
            };
            let mut output = Planes::zeros(channels, lh * scale, lw * scale);
            run_windows(
                &plan,
                threads,
                |win| match run(win, &means) {
                    Ok(out) => f32_values(out.into_data()),
                    Err(_) => Err(CodecError::Weights(format!(
                        "encoder stages {span:?} have more than {blocks} attention blocks"
                    ))),
                },
                |_, win, values| output.put(win, 1, &values),
            )?;
            input = Some(output);
        }
        let latent =
            input.ok_or_else(|| CodecError::Weights("the encoder has no stages".into()))?;
        Ok(burn::tensor::Tensor::from_data(
            burn::tensor::TensorData::new(latent.values, [1, latent.channels, lh, lw]),
            device,
        ))
    }
}

/// The whole image's channel-attention means of a network run window by window: pass
/// `i < blocks` runs `run(window, means of blocks 0..i)`, which must stop at attention
/// block `i` with its input (`Err(features)`), sums that over every window's tile and
/// divides by the positions. `progress(done)` counts windows over all passes.
fn attention_means<B: Backend>(
    plan: &[Window],
    threads: usize,
    blocks: usize,
    run: impl Fn(&Window, &[Tensor<B, 2>]) -> Result<Tensor<B, 4>, Features<B>> + Sync,
    mut progress: impl FnMut(usize),
    device: &B::Device,
) -> Result<Vec<Tensor<B, 2>>, CodecError> {
    let mut means: Vec<Tensor<B, 2>> = Vec::with_capacity(blocks);
    for pass in 0..blocks {
        let mut sums: Vec<f64> = Vec::new();
        let mut positions = 0usize;
        run_windows(
            plan,
            threads,
            |win| match run(win, &means) {
                Err(features) => tile_sums(features, win),
                Ok(_) => Err(CodecError::Weights(format!(
                    "the network has {pass} attention blocks, not {blocks}"
                ))),
            },
            |done, _, (tile_sums, tile_positions)| {
                sums.resize(tile_sums.len(), 0.0);
                for (s, t) in sums.iter_mut().zip(&tile_sums) {
                    *s += t;
                }
                positions += tile_positions;
                progress(pass * plan.len() + done + 1);
            },
        )?;
        let mean: Vec<f32> = sums
            .iter()
            .map(|s| (s / positions.max(1) as f64) as f32)
            .collect();
        let c = mean.len();
        means.push(Tensor::from_data(
            burn::tensor::TensorData::new(mean, [1, c]),
            device,
        ));
    }
    Ok(means)
}

/// The values of attention means `[1, C]` each, for the CPU kernels (`None` if the
/// backend cannot read them: the caller runs the Burn modules instead).
pub(crate) fn mean_values<B: Backend>(means: &[Tensor<B, 2>]) -> Option<Vec<Vec<f32>>> {
    means
        .iter()
        .map(|m| f32_values(m.clone().into_data()).ok())
        .collect()
}

/// A window's attention input where a run stopped for its whole-image mean: a Burn
/// tensor `[1, C, H, W]`, or channels-last maps from the CPU kernels.
pub(crate) enum Features<B: Backend> {
    /// From the Burn modules.
    Tensor(Tensor<B, 4>),
    /// From the CPU kernels ([`crate::model::cpu`]).
    Maps(Maps),
}

/// Per-channel sums of `features` (a window's attention input at `s` positions per
/// latent position, over the window's outer rows × columns) over the window's tile, and
/// the number of positions summed. Maps are summed in `f64` (as the CPU kernels pool
/// a whole image), so the means of a tiled run equal the whole image's.
fn tile_sums<B: Backend>(
    features: Features<B>,
    win: &Window,
) -> Result<(Vec<f64>, usize), CodecError> {
    let height = match &features {
        Features::Tensor(t) => t.dims()[2],
        Features::Maps(m) => m.height,
    };
    let (rows, cols) = tile_region(win, height);
    let positions = rows.len() * cols.len();
    let sums = match features {
        Features::Maps(m) => m.sums(rows, cols),
        Features::Tensor(t) => {
            let c = t.dims()[1];
            let sums = t.slice([0..1, 0..c, rows, cols]).sum_dim(3).sum_dim(2);
            f32_values(sums.into_data())?
                .into_iter()
                .map(f64::from)
                .collect()
        }
    };
    Ok((sums, positions))
}

/// The rows and columns of a window's tile in features that span the window's outer
/// rows in `height` rows (`height / |outer rows|` per window position).
fn tile_region(win: &Window, height: usize) -> (Range<usize>, Range<usize>) {
    let s = height / win.outer_rows.len().max(1);
    let scaled = |inner: &Range<usize>, outer: &Range<usize>| {
        (inner.start - outer.start) * s..(inner.end - outer.start) * s
    };
    (
        scaled(&win.rows, &win.outer_rows),
        scaled(&win.cols, &win.outer_cols),
    )
}

/// A stage's output over the whole image, kept between two segments of a tiled
/// synthesis or analysis (and the stitched latent of the last analysis segment):
/// `values` is `[channels, height, width]`, row-major.
struct Planes {
    channels: usize,
    height: usize,
    width: usize,
    values: Vec<f32>,
}

impl Planes {
    fn zeros(channels: usize, height: usize, width: usize) -> Self {
        Self {
            channels,
            height,
            width,
            values: vec![0.0; channels * height * width],
        }
    }

    /// The window's outer rows × columns: `[1, C, |outer rows|, |outer cols|]`.
    fn window<B: Backend>(&self, win: &Window, device: &B::Device) -> Tensor<B, 4> {
        self.region(win.outer_rows.clone(), win.outer_cols.clone(), device)
    }

    /// `rows × cols` as planar values `[C, |rows|, |cols|]`.
    fn planar(&self, rows: Range<usize>, cols: Range<usize>) -> Vec<f32> {
        let mut data = Vec::with_capacity(self.channels * rows.len() * cols.len());
        for c in 0..self.channels {
            for y in rows.clone() {
                let at = (c * self.height + y) * self.width;
                data.extend_from_slice(&self.values[at + cols.start..at + cols.end]);
            }
        }
        data
    }

    /// `rows × cols`: `[1, C, |rows|, |cols|]`.
    fn region<B: Backend>(
        &self,
        rows: Range<usize>,
        cols: Range<usize>,
        device: &B::Device,
    ) -> Tensor<B, 4> {
        let shape = [1, self.channels, rows.len(), cols.len()];
        Tensor::from_data(
            burn::tensor::TensorData::new(self.planar(rows, cols), shape),
            device,
        )
    }

    /// `rows × cols` as channels-last maps (for the CPU kernels).
    fn maps(&self, rows: Range<usize>, cols: Range<usize>) -> Maps {
        let (h, w) = (rows.len(), cols.len());
        Maps::from_planes(&self.planar(rows, cols), self.channels, h, w)
    }

    /// Stores the tile of a window's output `values` (`[C, g·|outer rows|,
    /// g·|outer cols|]`, `g` output positions per window position).
    fn put(&mut self, win: &Window, g: usize, values: &[f32]) {
        let (oh, ow) = (g * win.outer_rows.len(), g * win.outer_cols.len());
        let (r0, c0) = (g * win.outer_rows.start, g * win.outer_cols.start);
        let cols = g * win.cols.start..g * win.cols.end;
        for c in 0..self.channels {
            for y in g * win.rows.start..g * win.rows.end {
                let src = (c * oh + y - r0) * ow;
                let dst = (c * self.height + y) * self.width;
                self.values[dst + cols.start..dst + cols.end]
                    .copy_from_slice(&values[src + cols.start - c0..src + cols.end - c0]);
            }
        }
    }
}

/// A finished tile of [`CodecModel::synthesize_tiles`]: its pixels and where they go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedTile {
    /// Left edge in the image, in pixels.
    pub x: usize,
    /// Top edge in the image, in pixels.
    pub y: usize,
    /// The tile's pixels (cropped to the image at its right and bottom edges).
    pub image: RgbImage,
}

/// The kept part of a window's synthesis (`[3, s·outer rows, s·outer cols]` for a window
/// in units of `s` pixels, values in `0..255`) as an 8-bit RGB tile of an image of
/// `w × h`, rounded (the whole-image case is one window of latent positions, `s = 16`:
/// [`pixels_to_image`](crate::codec::pixels_to_image)).
///
/// # Errors
///
/// [`CodecError::Weights`] if `pixels` does not hold the window's values.
pub(crate) fn tile_of(
    win: &Window,
    pixels: &[f32],
    size: (usize, usize),
    s: usize,
) -> Result<DecodedTile, CodecError> {
    let (oh, ow) = (win.outer_rows.len() * s, win.outer_cols.len() * s);
    if pixels.len() != 3 * oh * ow {
        return Err(CodecError::Weights(format!(
            "synthesis gave {} values, expected 3×{oh}×{ow}",
            pixels.len()
        )));
    }
    let (oy, ox) = (win.outer_rows.start * s, win.outer_cols.start * s);
    let (rows, cols) = kept_pixels(win, size, s);
    rgb_tile(rows, cols, |y, x, c| {
        pixels[(c * oh + y - oy) * ow + x - ox]
    })
}

/// The image pixels a window keeps (its tile, in units of `s` pixels, cropped to the
/// image of `w × h`): rows, columns.
fn kept_pixels(win: &Window, (w, h): (usize, usize), s: usize) -> (Range<usize>, Range<usize>) {
    (
        win.rows.start * s..(win.rows.end * s).min(h),
        win.cols.start * s..(win.cols.end * s).min(w),
    )
}

/// The tile of image `rows × cols` whose value at `(y, x)`, channel `c`, is
/// `value(y, x, c)` (≈ `0..255`), rounded and clamped to 8 bits.
fn rgb_tile(
    rows: Range<usize>,
    cols: Range<usize>,
    value: impl Fn(usize, usize, usize) -> f32,
) -> Result<DecodedTile, CodecError> {
    let mut rgb = Vec::with_capacity(3 * rows.len() * cols.len());
    for y in rows.clone() {
        for x in cols.clone() {
            for c in 0..3 {
                rgb.push(libm::roundf(value(y, x, c)).clamp(0.0, 255.0) as u8);
            }
        }
    }
    Ok(DecodedTile {
        x: cols.start,
        y: rows.start,
        image: RgbImage::new(cols.len(), rows.len(), rgb)?,
    })
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
        // 1 + 2·2 + 4·4 + 4·8 + 4·16 + 16 = 133 px → 9 positions
        assert_eq!(analysis_halo(&cfg), 9);
        assert_eq!(
            analysis_attention_blocks(&cfg),
            3,
            "Sigmoid attention pools"
        );
        cfg.encoder.attention = AttentionKind::None;
        assert_eq!(analysis_halo(&cfg), 9);
        assert_eq!(analysis_attention_blocks(&cfg), 0);
    }

    #[test]
    fn a_12_mp_analysis_keeps_the_eighth_resolution_output_between_two_segments() {
        // cvq-compact's encoder: features [8, 16, 32, 48], blocks [0, 1, 1, 1].
        let mut cfg = CvqnConfig::preset(Preset::Tiny);
        cfg.encoder.features = [8, 16, 32, 48];
        cfg.encoder.blocks = [0, 1, 1, 1];
        let (lh, lw) = (188, 250); // 4000×3000 px
        // Stage outputs: 192 MB, 96 MB (too large for 64 MB), 36 MB (kept).
        assert_eq!(
            analysis_segments(&cfg, lh, lw, SEGMENT_BUDGET_BYTES),
            vec![0..3, 3..4]
        );
        // 1 + 2·2 + 4·4 + 4·8 = 53 px → 7 positions of 8 px; (4·8 + 2) / 2 → 5 of 16 px.
        assert_eq!(analysis_span_halo(&cfg, 0..3), 7);
        assert_eq!(analysis_span_halo(&cfg, 3..4), 5);
        let plan = analysis_plan(&cfg, lh, lw, 32, SEGMENT_BUDGET_BYTES);
        assert_eq!(
            plan,
            vec![
                Segment {
                    stages: 0..3,
                    tile: 32,
                    attention_blocks: 2
                },
                Segment {
                    stages: 3..4,
                    tile: 64,
                    attention_blocks: 1
                },
            ]
        );
        // No budget: one segment, the whole encoder per window (halo 9 positions).
        assert_eq!(analysis_segments(&cfg, lh, lw, 0), vec![0..4]);
        assert_eq!(analysis_span_halo(&cfg, 0..4), analysis_halo(&cfg));
        // A small image keeps every stage's output.
        assert_eq!(analysis_segments(&cfg, 4, 5, SEGMENT_BUDGET_BYTES).len(), 4);
    }

    #[test]
    fn synthesis_halo_grows_with_depth_and_attention_adds_passes() {
        let mut cfg = CvqnConfig::preset(Preset::Tiny);
        // blocks [0; 4] (no residual block, so no attention runs):
        // head 16 + 2·(16 + 8 + 4 + 2) + tail 1 = 77 px → 5 positions
        assert_eq!(synthesis_halo(&cfg), 5);
        assert_eq!(synthesis_attention_blocks(&cfg), 0);
        cfg.decoder.blocks = [1, 1, 1, 0];
        // 16 + 4·16 + 4·8 + 4·4 + 2·2 + 1 = 133 px → 9 positions, with or without
        // attention (its means come from the passes)
        assert_eq!(synthesis_halo(&cfg), 9);
        assert_eq!(
            synthesis_attention_blocks(&cfg),
            3,
            "Sigmoid attention pools"
        );
        cfg.decoder.attention = AttentionKind::None;
        assert_eq!(synthesis_halo(&cfg), 9);
        assert_eq!(synthesis_attention_blocks(&cfg), 0);
    }
}
