//! Training data: a folder of photos or a packed file (`cvq-train prepare`), random
//! crops with flips, made on worker threads ahead of the training loop.
//!
//! Crops are cut from the full images every time (no fixed pre-cut set). Batch `s` of a
//! run is a pure function of `(seed, s)`: its random numbers come from ChaCha8 stream `s`
//! of the run's seed, so prefetching order, the number of workers and resuming after an
//! interruption never change what the model sees.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use cvq_core::codec::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Errors of the data pipeline.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or folder cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// An image cannot be decoded or encoded.
    #[error("{path}: {message}")]
    Image {
        /// The image (file or packed entry).
        path: String,
        /// Cause.
        message: String,
    },
    /// A pack file is malformed.
    #[error("{path}: not a valid cvq data pack: {message}")]
    Pack {
        /// The pack file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// No usable image.
    #[error("{0}: no image of at least {1}×{1} pixels (PNG, JPEG or WebP)")]
    Empty(String, usize),
}

/// Where one training image comes from.
#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Packed(Arc<[u8]>),
}

/// A set of training images, decoded lazily (once) and kept in memory.
#[derive(Debug)]
pub struct Dataset {
    min_side: usize,
    names: Vec<String>,
    sources: Vec<Source>,
    cache: Vec<OnceLock<Arc<RgbImage>>>,
}

/// The image files (PNG, JPEG, WebP by extension) of a folder, sorted by name.
pub use cvq::io::image_files;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Dataset {
    /// Opens a folder of images (PNG, JPEG, WebP; sorted by name) or a pack file. Images
    /// smaller than `min_side` on either side are skipped.
    ///
    /// # Errors
    ///
    /// I/O or pack errors, or no usable image.
    pub fn open(path: &Path, min_side: usize) -> Result<Self, DataError> {
        let (names, sources, sizes) = if path.is_dir() {
            let files = image_files(path).map_err(io_err(path))?;
            let mut sizes = Vec::with_capacity(files.len());
            for f in &files {
                let (w, h) = image::image_dimensions(f).map_err(|e| DataError::Image {
                    path: f.display().to_string(),
                    message: e.to_string(),
                })?;
                sizes.push((w as usize, h as usize));
            }
            let names = files
                .iter()
                .map(|f| {
                    f.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            (names, files.into_iter().map(Source::File).collect(), sizes)
        } else {
            let bytes = std::fs::read(path).map_err(io_err(path))?;
            let entries = crate::pack::parse(&bytes).map_err(|message| DataError::Pack {
                path: path.display().to_string(),
                message,
            })?;
            let mut names = Vec::new();
            let mut sources = Vec::new();
            let mut sizes = Vec::new();
            for e in entries {
                names.push(e.name);
                sizes.push((e.width, e.height));
                sources.push(Source::Packed(e.encoded.into()));
            }
            (names, sources, sizes)
        };
        let keep: Vec<usize> = (0..names.len())
            .filter(|&i| sizes[i].0 >= min_side && sizes[i].1 >= min_side)
            .collect();
        if keep.is_empty() {
            return Err(DataError::Empty(path.display().to_string(), min_side));
        }
        Ok(Self {
            min_side: keep
                .iter()
                .map(|&i| sizes[i].0.min(sizes[i].1))
                .min()
                .unwrap_or(0),
            names: keep.iter().map(|&i| names[i].clone()).collect(),
            sources: keep.iter().map(|&i| sources[i].clone()).collect(),
            cache: keep.iter().map(|_| OnceLock::new()).collect(),
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the set is empty (never true for an opened set).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The shortest side of any image: crops up to this size are possible.
    pub fn min_side(&self) -> usize {
        self.min_side
    }

    /// Image names (file names).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Image `i`, decoded on first use.
    ///
    /// # Errors
    ///
    /// The image cannot be read or decoded.
    pub fn image(&self, i: usize) -> Result<Arc<RgbImage>, DataError> {
        if let Some(img) = self.cache[i].get() {
            return Ok(img.clone());
        }
        let decoded = match &self.sources[i] {
            Source::File(p) => image::open(p),
            Source::Packed(bytes) => image::load_from_memory(bytes),
        }
        .map_err(|e| DataError::Image {
            path: self.names[i].clone(),
            message: e.to_string(),
        })?
        .to_rgb8();
        let (w, h) = (decoded.width() as usize, decoded.height() as usize);
        let img = RgbImage::new(w, h, decoded.into_raw()).map_err(|e| DataError::Image {
            path: self.names[i].clone(),
            message: e.to_string(),
        })?;
        Ok(self.cache[i].get_or_init(|| Arc::new(img)).clone())
    }

    /// Batch number `step` of a run: `batch` random `crop`×`crop` crops with random
    /// horizontal and vertical flips, as `[batch, 3, crop, crop]` values in `0..1`
    /// (channel-first, row-major). A pure function of `(seed, step)`.
    ///
    /// # Errors
    ///
    /// An image cannot be decoded.
    pub fn batch(
        &self,
        seed: u64,
        step: u64,
        batch: usize,
        crop: usize,
    ) -> Result<Vec<f32>, DataError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(step);
        let plane = crop * crop;
        let mut out = vec![0.0f32; batch * 3 * plane];
        for b in 0..batch {
            let img = self.image(rng.random_range(0..self.len()))?;
            let x0 = rng.random_range(0..=img.width - crop);
            let y0 = rng.random_range(0..=img.height - crop);
            let (flip_h, flip_v) = (rng.random_bool(0.5), rng.random_bool(0.5));
            let dst = &mut out[b * 3 * plane..(b + 1) * 3 * plane];
            for y in 0..crop {
                let sy = y0 + if flip_v { crop - 1 - y } else { y };
                for x in 0..crop {
                    let sx = x0 + if flip_h { crop - 1 - x } else { x };
                    let p = 3 * (sy * img.width + sx);
                    for c in 0..3 {
                        dst[c * plane + y * crop + x] = f32::from(img.data[p + c]) / 255.0;
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Writes batches `0..steps` of a run with `seed` (the crops [`Dataset::batch`] makes)
/// to `output` as raw bytes: `[steps, batch, 3, crop, crop]`, value = byte / 255.
/// Returns the bytes written.
///
/// # Errors
///
/// Unreadable data or an unwritable output.
pub fn write_batches(
    data: &Path,
    seed: u64,
    batch: usize,
    crop: usize,
    steps: u64,
    output: &Path,
) -> Result<u64, DataError> {
    use std::io::Write;
    let set = Dataset::open(data, crop)?;
    let file = std::fs::File::create(output).map_err(io_err(output))?;
    let mut w = std::io::BufWriter::new(file);
    let mut written = 0u64;
    for step in 0..steps {
        let bytes: Vec<u8> = set
            .batch(seed, step, batch, crop)?
            .iter()
            .map(|v| (v * 255.0).round() as u8)
            .collect();
        w.write_all(&bytes).map_err(io_err(output))?;
        written += bytes.len() as u64;
    }
    w.flush().map_err(io_err(output))?;
    Ok(written)
}

/// Makes batches on worker threads ahead of the training loop.
///
/// Worker `w` of `W` makes batches `start + w`, `start + w + W`, …; [`Loader::next`]
/// takes them round-robin, so batches arrive in step order whatever the timing.
pub struct Loader {
    receivers: Vec<Receiver<Result<Vec<f32>, DataError>>>,
    handles: Vec<JoinHandle<()>>,
    next: usize,
}

impl Loader {
    /// Starts `workers` threads (≥ 1), each keeping up to `prefetch` batches ready.
    pub fn start(
        dataset: Arc<Dataset>,
        seed: u64,
        first_step: u64,
        batch: usize,
        crop: usize,
        workers: usize,
        prefetch: usize,
    ) -> Self {
        let workers = workers.max(1);
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx): (SyncSender<_>, _) = sync_channel(prefetch.max(1));
            let data = dataset.clone();
            handles.push(std::thread::spawn(move || {
                let mut step = first_step + w as u64;
                // Stops when the loader is dropped (send fails).
                while tx.send(data.batch(seed, step, batch, crop)).is_ok() {
                    step += workers as u64;
                }
            }));
            receivers.push(rx);
        }
        Self {
            receivers,
            handles,
            next: 0,
        }
    }

    /// The next batch in step order.
    ///
    /// # Errors
    ///
    /// The batch could not be made (image decoding failed).
    pub fn next_batch(&mut self) -> Result<Vec<f32>, DataError> {
        let rx = &self.receivers[self.next % self.receivers.len()];
        self.next += 1;
        rx.recv()
            .expect("loader worker alive while its channel is open")
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Closing the channels ends the workers' send loops.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../entropy/tests/fixtures/golden")
    }

    #[test]
    fn batches_depend_only_on_seed_and_step() {
        let data = Arc::new(Dataset::open(&fixture_dir(), 32).unwrap());
        let direct: Vec<_> = (5..11).map(|s| data.batch(9, s, 2, 32).unwrap()).collect();
        for workers in [1, 3] {
            let mut loader = Loader::start(data.clone(), 9, 5, 2, 32, workers, 2);
            for d in &direct {
                assert_eq!(&loader.next_batch().unwrap(), d);
            }
        }
        assert_ne!(direct[0], direct[1]);
        assert_ne!(direct[0], data.batch(10, 5, 2, 32).unwrap());
        assert!(direct[0].iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn too_small_images_are_reported() {
        let err = Dataset::open(&fixture_dir(), 4096).unwrap_err();
        assert!(
            err.to_string().contains("no image of at least 4096"),
            "{err}"
        );
    }
}
