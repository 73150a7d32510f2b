//! The classical codecs of the benchmark: command-line tools from Debian, run as child
//! processes on files in a temporary folder.
//!
//! Each codec is described by data ([`CLASSICAL`]): its tools, their argument templates
//! (`{in}`, `{out}` and `{q}` are substituted) and the sweep of its quality knob, chosen so
//! that the mean over the 24 Kodak images spans roughly 0.05–1.2 bpp (measured on this
//! machine with the Debian bookworm tools). Times are the wall time of the tool process
//! (start-up and reading / writing its files included); each tool runs with its own
//! default thread count (libjpeg-turbo, libwebp, libavif, OpenJPEG: 1 thread; libjxl: all
//! cores).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use cvq_core::codec::RgbImage;
use serde::Serialize;

/// Input / output image format of a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ImageFormat {
    /// Binary PPM (P6, 8-bit).
    Ppm,
    /// PNG (8-bit RGB).
    Png,
}

impl ImageFormat {
    /// File extension.
    pub fn ext(self) -> &'static str {
        match self {
            Self::Ppm => "ppm",
            Self::Png => "png",
        }
    }
}

/// One classical codec: its tools, argument templates and quality sweep.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ClassicalCodec {
    /// Short name used by `--codecs` and in the outputs.
    pub name: &'static str,
    /// Human-readable name.
    pub label: &'static str,
    /// Debian package that provides the tools.
    pub package: &'static str,
    /// Encoder tool.
    pub encoder: &'static str,
    /// Encoder arguments (`{q}`, `{in}`, `{out}`).
    pub encode_args: &'static [&'static str],
    /// Decoder tool.
    pub decoder: &'static str,
    /// Decoder arguments (`{in}`, `{out}`).
    pub decode_args: &'static [&'static str],
    /// Arguments that make the encoder print its version.
    pub version_args: &'static [&'static str],
    /// Extension of the compressed file.
    pub ext: &'static str,
    /// What the encoder reads.
    pub input: ImageFormat,
    /// What the decoder writes.
    pub output: ImageFormat,
    /// Name of the swept parameter (`q`, `d`, `r`, …).
    pub knob: &'static str,
    /// The sweep, from the lowest to the highest rate.
    pub settings: &'static [f64],
}

/// The classical codecs, in report order.
pub const CLASSICAL: [ClassicalCodec; 5] = [
    ClassicalCodec {
        name: "jpeg",
        label: "JPEG (libjpeg-turbo, 4:2:0, optimised Huffman)",
        package: "libjpeg-turbo-progs",
        encoder: "cjpeg",
        encode_args: &["-quality", "{q}", "-optimize", "-outfile", "{out}", "{in}"],
        decoder: "djpeg",
        decode_args: &["-outfile", "{out}", "{in}"],
        version_args: &["-version"],
        ext: "jpg",
        input: ImageFormat::Ppm,
        output: ImageFormat::Ppm,
        knob: "q",
        // Kodak mean ≈ 0.08 … 1.1 bpp
        settings: &[2.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0],
    },
    ClassicalCodec {
        name: "webp",
        label: "WebP (libwebp, lossy, -m 4)",
        package: "webp",
        encoder: "cwebp",
        encode_args: &["-quiet", "-q", "{q}", "-m", "4", "{in}", "-o", "{out}"],
        decoder: "dwebp",
        decode_args: &["-quiet", "{in}", "-ppm", "-o", "{out}"],
        version_args: &["-version"],
        ext: "webp",
        input: ImageFormat::Ppm,
        output: ImageFormat::Ppm,
        knob: "q",
        // Kodak mean ≈ 0.12 … 1.1 bpp (WebP does not go lower)
        settings: &[0.0, 3.0, 10.0, 20.0, 35.0, 55.0, 75.0],
    },
    ClassicalCodec {
        name: "avif",
        label: "AVIF (libavif + libaom, speed 6, 4:2:0)",
        package: "libavif-bin",
        encoder: "avifenc",
        encode_args: &[
            "-s", "6", "-j", "1", "-y", "420", "--min", "{q}", "--max", "{q}", "{in}", "{out}",
        ],
        decoder: "avifdec",
        decode_args: &["-j", "1", "{in}", "{out}"],
        version_args: &["--version"],
        ext: "avif",
        input: ImageFormat::Png,
        output: ImageFormat::Png,
        knob: "qp",
        // quantizer 0–63; Kodak mean ≈ 0.03 … 1.0 bpp
        settings: &[63.0, 58.0, 52.0, 46.0, 40.0, 34.0, 28.0],
    },
    ClassicalCodec {
        name: "jxl",
        label: "JPEG XL (libjxl, effort 7)",
        package: "libjxl-tools",
        encoder: "cjxl",
        encode_args: &["-d", "{q}", "-e", "7", "{in}", "{out}"],
        decoder: "djxl",
        decode_args: &["{in}", "{out}"],
        version_args: &["--version"],
        ext: "jxl",
        input: ImageFormat::Ppm,
        output: ImageFormat::Ppm,
        knob: "d",
        // Butteraugli distance; Kodak mean ≈ 0.12 … 0.95 bpp
        settings: &[25.0, 15.0, 10.0, 7.0, 5.0, 3.5, 2.5],
    },
    ClassicalCodec {
        name: "j2k",
        label: "JPEG 2000 (OpenJPEG, 9/7 irreversible)",
        package: "libopenjp2-tools",
        encoder: "opj_compress",
        encode_args: &["-i", "{in}", "-o", "{out}", "-r", "{q}", "-I"],
        decoder: "opj_decompress",
        decode_args: &["-i", "{in}", "-o", "{out}"],
        version_args: &["-h"],
        ext: "j2k",
        input: ImageFormat::Ppm,
        output: ImageFormat::Ppm,
        knob: "r",
        // compression ratio against 24 bpp: 0.05 … 1.0 bpp by construction
        settings: &[480.0, 240.0, 120.0, 80.0, 48.0, 32.0, 24.0],
    },
];

/// Errors of one tool run (recorded in the report; the benchmark goes on).
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The process could not be started.
    #[error("{tool}: cannot run: {source}")]
    Spawn {
        /// The tool.
        tool: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The process exited with a failure.
    #[error("{tool} failed ({status}): {stderr}")]
    Failed {
        /// The tool.
        tool: String,
        /// Exit status.
        status: String,
        /// The end of its standard error.
        stderr: String,
    },
    /// Its output is missing or unreadable.
    #[error("{path}: {message}")]
    Output {
        /// The file.
        path: String,
        /// Cause.
        message: String,
    },
}

/// The full path of `tool` on `PATH`, if it is there and executable.
pub fn find_in_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first line of the tool's version output that contains a version number such as
/// `2.1.5` (best effort).
pub fn tool_version(tool: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(tool).args(args).output().ok()?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .map(str::trim)
        .find(|l| {
            l.as_bytes()
                .windows(3)
                .any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit())
        })
        .map(|l| l.chars().take(100).collect())
}

/// A codec whose two tools were found.
#[derive(Debug, Clone)]
pub struct Available {
    /// The codec.
    pub codec: ClassicalCodec,
    /// Encoder path.
    pub encoder: PathBuf,
    /// Decoder path.
    pub decoder: PathBuf,
}

/// Looks up both tools of `codec`; `Err` names the missing one.
pub fn locate(codec: &ClassicalCodec) -> Result<Available, String> {
    let find = |tool: &str| {
        find_in_path(tool).ok_or_else(|| {
            format!(
                "{tool} not found on PATH (apt-get install {})",
                codec.package
            )
        })
    };
    Ok(Available {
        codec: *codec,
        encoder: find(codec.encoder)?,
        decoder: find(codec.decoder)?,
    })
}

/// `3.5` → `"3.5"`, `20.0` → `"20"`.
pub fn format_param(v: f64) -> String {
    format!("{v}")
}

/// What one encode + decode of an image produced.
#[derive(Debug)]
pub struct RoundTrip {
    /// Compressed file size.
    pub bytes: u64,
    /// The decoded image.
    pub decoded: RgbImage,
    /// Encoder wall time (ms).
    pub encode_ms: f64,
    /// Decoder wall time (ms).
    pub decode_ms: f64,
}

fn run_tool(tool: &Path, args: Vec<String>) -> Result<f64, ToolError> {
    let name = tool
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let start = Instant::now();
    let out = Command::new(tool)
        .args(&args)
        .output()
        .map_err(|source| ToolError::Spawn {
            tool: name.clone(),
            source,
        })?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: String = err
            .trim()
            .lines()
            .next_back()
            .unwrap_or("")
            .chars()
            .take(300)
            .collect();
        return Err(ToolError::Failed {
            tool: name,
            status: out.status.to_string(),
            stderr: tail,
        });
    }
    Ok(ms)
}

fn substitute(template: &[&str], q: f64, input: &Path, output: &Path) -> Vec<String> {
    template
        .iter()
        .map(|a| {
            a.replace("{q}", &format_param(q))
                .replace("{in}", &input.to_string_lossy())
                .replace("{out}", &output.to_string_lossy())
        })
        .collect()
}

impl Available {
    /// Encodes `input` (already written in the encoder's format) at `setting` in `dir`,
    /// decodes it back and removes both files.
    ///
    /// # Errors
    ///
    /// A tool fails or its output cannot be read.
    pub fn round_trip(
        &self,
        input: &Path,
        setting: f64,
        dir: &Path,
    ) -> Result<RoundTrip, ToolError> {
        let c = &self.codec;
        let compressed = dir.join(format!("{}.{}", c.name, c.ext));
        let decoded = dir.join(format!("{}-decoded.{}", c.name, c.output.ext()));
        let result = self.round_trip_files(input, setting, &compressed, &decoded);
        let _ = std::fs::remove_file(&compressed);
        let _ = std::fs::remove_file(&decoded);
        result
    }

    fn round_trip_files(
        &self,
        input: &Path,
        setting: f64,
        compressed: &Path,
        decoded: &Path,
    ) -> Result<RoundTrip, ToolError> {
        let c = &self.codec;
        let encode_ms = run_tool(
            &self.encoder,
            substitute(c.encode_args, setting, input, compressed),
        )?;
        let bytes = std::fs::metadata(compressed)
            .map_err(|e| ToolError::Output {
                path: compressed.display().to_string(),
                message: e.to_string(),
            })?
            .len();
        let decode_ms = run_tool(
            &self.decoder,
            substitute(c.decode_args, setting, compressed, decoded),
        )?;
        let image = read_rgb(decoded, c.output).map_err(|message| ToolError::Output {
            path: decoded.display().to_string(),
            message,
        })?;
        Ok(RoundTrip {
            bytes,
            decoded: image,
            encode_ms,
            decode_ms,
        })
    }
}

/// Writes `image` as `format`.
///
/// # Errors
///
/// The file cannot be written.
pub fn write_rgb(path: &Path, image: &RgbImage, format: ImageFormat) -> Result<(), String> {
    match format {
        ImageFormat::Ppm => {
            let mut buf = format!("P6\n{} {}\n255\n", image.width, image.height).into_bytes();
            buf.extend_from_slice(&image.data);
            std::fs::write(path, buf).map_err(|e| e.to_string())
        }
        ImageFormat::Png => cvq::io::write_image(path, image).map_err(|e| e.to_string()),
    }
}

/// Reads an 8-bit RGB image written by a decoder.
///
/// # Errors
///
/// The file is missing or not an 8-bit RGB image of that format.
pub fn read_rgb(path: &Path, format: ImageFormat) -> Result<RgbImage, String> {
    match format {
        ImageFormat::Ppm => {
            let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
            parse_ppm(&bytes)
        }
        ImageFormat::Png => cvq::io::read_image(path).map_err(|e| e.to_string()),
    }
}

/// Parses a binary PPM (`P6`, maxval 255; `#` comments allowed in the header).
///
/// # Errors
///
/// Anything else.
pub fn parse_ppm(bytes: &[u8]) -> Result<RgbImage, String> {
    let mut pos = 0;
    let mut fields = Vec::with_capacity(4);
    while fields.len() < 4 {
        // skip whitespace and comments
        while pos < bytes.len() {
            if bytes[pos].is_ascii_whitespace() {
                pos += 1;
            } else if bytes[pos] == b'#' {
                while pos < bytes.len() && bytes[pos] != b'\n' {
                    pos += 1;
                }
            } else {
                break;
            }
        }
        let start = pos;
        while pos < bytes.len() && !bytes[pos].is_ascii_whitespace() && bytes[pos] != b'#' {
            pos += 1;
        }
        if start == pos {
            return Err("truncated PPM header".into());
        }
        fields.push(String::from_utf8_lossy(&bytes[start..pos]).into_owned());
    }
    if fields[0] != "P6" {
        return Err(format!("not a binary PPM (magic {:?})", fields[0]));
    }
    let num = |s: &str| {
        s.parse::<usize>()
            .map_err(|_| format!("bad PPM field {s:?}"))
    };
    let (w, h, max) = (num(&fields[1])?, num(&fields[2])?, num(&fields[3])?);
    if max != 255 {
        return Err(format!("PPM maxval {max}, expected 255"));
    }
    // exactly one whitespace byte after maxval
    pos += 1;
    let len = w
        .checked_mul(h)
        .and_then(|p| p.checked_mul(3))
        .ok_or("PPM too large")?;
    let data = bytes
        .get(pos..pos + len)
        .ok_or("truncated PPM data")?
        .to_vec();
    RgbImage::new(w, h, data).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppm_round_trips_and_accepts_comments() {
        let img = RgbImage::new(3, 2, (0..18).collect()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.ppm");
        write_rgb(&p, &img, ImageFormat::Ppm).unwrap();
        let back = read_rgb(&p, ImageFormat::Ppm).unwrap();
        assert_eq!((back.width, back.height, &back.data), (3, 2, &img.data));

        let mut commented = b"P6\n# OpenJPEG-2.5.0\n3 2\n255\n".to_vec();
        commented.extend(0u8..18);
        assert_eq!(parse_ppm(&commented).unwrap().data, img.data);
        assert!(parse_ppm(b"P5\n3 2\n255\n").is_err());
        assert!(parse_ppm(b"P6\n3 2\n255\n\x00\x01").is_err());
        assert!(parse_ppm(b"P6\n3 2\n65535\n").is_err());
    }

    #[test]
    fn templates_are_substituted() {
        let args = substitute(
            CLASSICAL[0].encode_args,
            20.0,
            Path::new("/t/in.ppm"),
            Path::new("/t/o.jpg"),
        );
        assert_eq!(
            args,
            [
                "-quality",
                "20",
                "-optimize",
                "-outfile",
                "/t/o.jpg",
                "/t/in.ppm"
            ]
        );
        assert_eq!(format_param(3.5), "3.5");
    }

    #[test]
    fn sweeps_are_ordered_from_low_to_high_rate() {
        for c in CLASSICAL {
            assert!(c.settings.len() >= 4, "{}", c.name);
            let increasing = c.settings.windows(2).all(|w| w[0] < w[1]);
            let decreasing = c.settings.windows(2).all(|w| w[0] > w[1]);
            assert!(increasing || decreasing, "{}", c.name);
        }
    }

    #[test]
    fn missing_tools_are_reported() {
        assert!(find_in_path("surely-not-a-tool-cvq-bench").is_none());
        let mut c = CLASSICAL[0];
        c.encoder = "surely-not-a-tool-cvq-bench";
        let err = locate(&c).unwrap_err();
        assert!(err.contains("not found"), "{err}");
    }
}
