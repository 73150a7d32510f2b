//! Image files (feature `image`): PNG, JPEG and WebP in, PNG, JPEG and WebP out.

use std::path::{Path, PathBuf};

use crate::{Error, RgbImage};

/// File extensions (lower case) of the images [`read_image`] reads.
pub const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "webp"];

/// Reads a PNG, JPEG or WebP file as 8-bit RGB (alpha is dropped, other bit depths are
/// converted).
///
/// # Errors
///
/// [`Error::Image`] when the file cannot be read or decoded.
pub fn read_image(path: &Path) -> Result<RgbImage, Error> {
    let err = |message: String| Error::Image {
        path: path.to_path_buf(),
        message,
    };
    let img = image::open(path).map_err(|e| err(e.to_string()))?.to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    RgbImage::new(w, h, img.into_raw()).map_err(|e| err(e.to_string()))
}

/// Writes an image; the format follows the extension (`png`, `jpg`/`jpeg`, `webp`).
///
/// # Errors
///
/// [`Error::Image`] for an unknown extension or a file that cannot be written.
pub fn write_image(path: &Path, image: &RgbImage) -> Result<(), Error> {
    let err = |message: String| Error::Image {
        path: path.to_path_buf(),
        message,
    };
    let (w, h) = (u32::try_from(image.width), u32::try_from(image.height));
    let buf = match (w, h) {
        (Ok(w), Ok(h)) => image::RgbImage::from_raw(w, h, image.data.clone()),
        _ => None,
    }
    .ok_or_else(|| err("image size and buffer do not match".into()))?;
    buf.save(path).map_err(|e| err(e.to_string()))
}

/// The image files of a folder ([`IMAGE_EXTENSIONS`], any case), sorted by name.
///
/// # Errors
///
/// The folder cannot be read.
pub fn image_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    Ok(files)
}
