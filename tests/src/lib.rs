//! Cross-crate integration tests for cvq live in `tests/tests/`. This library is the one
//! helper of the workspace's command-line tests (`cvq`, `cvq-bench`, `cvq-train`; they
//! take it as a dev-dependency): run a binary, then assert on its exit status and output
//! with the command line and both streams in every failure message.
//!
//! In a package's integration test, `Bin::new(env!("CARGO_BIN_EXE_cvq"))` is its `cvq`
//! binary. Any program works:
//!
//! ```
//! use tests::Bin;
//! let sh = Bin::new("/bin/sh");
//! sh.run(["-c", "echo hello"]).success().stdout_has("hello");
//! let run = sh.run(["-c", "echo oops >&2; exit 2"]).fails(2).stderr_has("oops");
//! assert_eq!(run.stdout, "");
//! ```

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A binary under test (pass `env!("CARGO_BIN_EXE_<name>")`).
#[derive(Debug, Clone)]
pub struct Bin {
    path: PathBuf,
}

/// The finished run of a [`Bin`]: exit code and output (lossy UTF-8).
#[derive(Debug, Clone)]
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Bin {
    /// The binary at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Runs the binary with `args` to completion.
    ///
    /// # Panics
    ///
    /// When the binary cannot be started.
    #[track_caller]
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<S> = args.into_iter().collect();
        let command = std::iter::once(self.path.as_os_str())
            .chain(args.iter().map(AsRef::as_ref))
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let out = Command::new(&self.path)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
        Run {
            command,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    fn context(&self) -> String {
        format!(
            "`{}` exited with {:?}\n--- stdout\n{}--- stderr\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }

    /// Asserts exit status 0.
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, Some(0), "{}", self.context());
        self
    }

    /// Asserts exit status `code` (1: an error, 2: command-line misuse).
    #[track_caller]
    pub fn fails(self, code: i32) -> Self {
        assert_eq!(self.code, Some(code), "{}", self.context());
        self
    }

    /// Asserts that standard output contains `text`.
    #[track_caller]
    pub fn stdout_has(self, text: &str) -> Self {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}: {}",
            self.context()
        );
        self
    }

    /// Asserts that standard error contains `text`.
    #[track_caller]
    pub fn stderr_has(self, text: &str) -> Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}: {}",
            self.context()
        );
        self
    }
}

/// The folder of the golden fixtures (`entropy/tests/fixtures/golden/`), whose
/// `kodim23-crop.png` (72×56) the tests use as a real photo.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../entropy/tests/fixtures/golden")
}

/// Writes a `w`×`h` synthetic RGB test pattern as PNG; `k` varies the pattern.
///
/// # Panics
///
/// When the file cannot be written.
pub fn write_test_png(path: &Path, w: u32, h: u32, k: u32) {
    image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * (k + 2)) as u8,
            (y * (k + 3)) as u8,
            ((x * y + k * (x ^ y)) % 251) as u8,
        ])
    })
    .save(path)
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Deterministic test values in `[-1, 1)` (xorshift), the same for every run and target.
pub fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// The bytes of a seeded, randomly initialised (untrained) recurrent model file of the
/// `rnn-tiny` preset with `iterations` iterations and f16 weights: format and plumbing
/// only, never shipped. The same `seed` gives the same file.
///
/// # Panics
///
/// For `iterations` the preset does not accept (`RecurrentConfig::validate`: 1..=64).
#[cfg(feature = "models")]
pub fn tiny_recurrent_model_file(seed: u64, iterations: usize) -> Vec<u8> {
    use burn::backend::Flex;
    use cvq_core::entropy::WeightPrecision;
    use cvq_core::recurrent::RecurrentCodec;
    use cvq_core::recurrent::codec::RecurrentCodecModel;
    use cvq_core::recurrent::config::{RecurrentConfig, RecurrentPreset};
    let device = Default::default();
    <Flex as burn::tensor::backend::Backend>::seed(&device, seed);
    let mut cfg = RecurrentConfig::preset(RecurrentPreset::Tiny);
    cfg.iterations = iterations;
    let net = RecurrentCodec::<Flex>::new(&cfg, &device).expect("a valid tiny preset");
    let (_, file) = RecurrentCodecModel::freeze(net, cfg, WeightPrecision::F16, &device)
        .expect("freezing a tiny model");
    file.to_bytes().expect("serialising a tiny model")
}
