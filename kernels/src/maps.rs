//! Feature maps in channels-last layout.

/// `height × width` positions of `channels` values: `data[(y·width + x)·channels + c]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Maps {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Values per position.
    pub channels: usize,
    /// `height · width · channels` values.
    pub data: Vec<f32>,
}

impl Maps {
    /// Zeros.
    pub fn zeros(height: usize, width: usize, channels: usize) -> Self {
        Self {
            height,
            width,
            channels,
            data: vec![0.0; height * width * channels],
        }
    }

    /// From channels-first planes `[channels, height, width]` (row-major).
    ///
    /// # Panics
    /// If `planes.len() != channels · height · width`.
    pub fn from_planes(planes: &[f32], channels: usize, height: usize, width: usize) -> Self {
        assert_eq!(
            planes.len(),
            channels * height * width,
            "planes of {channels}×{height}×{width}"
        );
        let area = height * width;
        let mut data = vec![0.0; planes.len()];
        for (c, plane) in planes.chunks_exact(area.max(1)).enumerate() {
            for (p, &v) in plane.iter().enumerate() {
                data[p * channels + c] = v;
            }
        }
        Self {
            height,
            width,
            channels,
            data,
        }
    }

    /// Channels-first planes `[channels, height, width]` (row-major).
    pub fn to_planes(&self) -> Vec<f32> {
        let area = self.height * self.width;
        let mut planes = vec![0.0; self.data.len()];
        for (p, values) in self.data.chunks_exact(self.channels.max(1)).enumerate() {
            for (c, &v) in values.iter().enumerate() {
                planes[c * area + p] = v;
            }
        }
        planes
    }

    /// Per-channel sums (in `f64`) over the positions `rows × cols`.
    pub fn sums(&self, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>) -> Vec<f64> {
        let mut sums = vec![0f64; self.channels];
        for y in rows {
            let row = &self.data[(y * self.width + cols.start) * self.channels
                ..(y * self.width + cols.end) * self.channels];
            for values in row.chunks_exact(self.channels) {
                for (s, &v) in sums.iter_mut().zip(values) {
                    *s += f64::from(v);
                }
            }
        }
        sums
    }

    /// Per-channel means over all positions.
    pub fn means(&self) -> Vec<f32> {
        let n = (self.height * self.width).max(1) as f64;
        self.sums(0..self.height, 0..self.width)
            .into_iter()
            .map(|s| (s / n) as f32)
            .collect()
    }

    /// Depth-to-space by 2 (PyTorch's `PixelShuffle(2)` channel order: channel
    /// `c·4 + i·2 + j` holds offset `(i, j)` of each 2×2 block of channel `c`):
    /// `h × w × 4C → 2h × 2w × C`.
    ///
    /// # Panics
    /// If the channels are not a multiple of 4.
    pub fn pixel_shuffle(&self) -> Self {
        assert!(
            self.channels.is_multiple_of(4),
            "{} channels",
            self.channels
        );
        let (c, w) = (self.channels / 4, self.width);
        let mut out = Self::zeros(2 * self.height, 2 * w, c);
        for (y, row) in self.data.chunks_exact((w * 4 * c).max(1)).enumerate() {
            for (x, deep) in row.chunks_exact(4 * c).enumerate() {
                for i in 0..2 {
                    for j in 0..2 {
                        let at = ((2 * y + i) * 2 * w + 2 * x + j) * c;
                        for (k, v) in out.data[at..at + c].iter_mut().enumerate() {
                            *v = deep[k * 4 + i * 2 + j];
                        }
                    }
                }
            }
        }
        out
    }

    /// Space-to-depth by 2, the inverse of [`Self::pixel_shuffle`]:
    /// `2h × 2w × C → h × w × 4C`.
    ///
    /// # Panics
    /// If the height or width is odd.
    pub fn pixel_unshuffle(&self) -> Self {
        assert!(
            self.height.is_multiple_of(2) && self.width.is_multiple_of(2),
            "{}×{} maps",
            self.height,
            self.width
        );
        let (c, w) = (self.channels, self.width / 2);
        let mut out = Self::zeros(self.height / 2, w, 4 * c);
        for (y, row) in out.data.chunks_exact_mut((w * 4 * c).max(1)).enumerate() {
            for (x, deep) in row.chunks_exact_mut(4 * c).enumerate() {
                for i in 0..2 {
                    for j in 0..2 {
                        let at = ((2 * y + i) * self.width + 2 * x + j) * c;
                        for (k, &v) in self.data[at..at + c].iter().enumerate() {
                            deep[k * 4 + i * 2 + j] = v;
                        }
                    }
                }
            }
        }
        out
    }

    /// `(self − mean) / std` per channel.
    pub fn normalize(&mut self, mean: &[f32], std: &[f32]) {
        for values in self.data.chunks_exact_mut(self.channels.max(1)) {
            for ((v, m), s) in values.iter_mut().zip(mean).zip(std) {
                *v = (*v - m) / s;
            }
        }
    }

    /// `self · scale + shift` per channel.
    pub fn affine(&mut self, scale: &[f32], shift: &[f32]) {
        for values in self.data.chunks_exact_mut(self.channels.max(1)) {
            for ((v, s), t) in values.iter_mut().zip(scale).zip(shift) {
                *v = *v * s + t;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_round_trip_and_shuffle_follows_pytorch() {
        // 4 channels of one 1×2 map: channel c·4 + i·2 + j at (0, x) holds 100·x + 10·i + j.
        let planes: Vec<f32> = (0..4)
            .flat_map(|ch| (0..2).map(move |x| (100 * x + 10 * (ch / 2) + ch % 2) as f32))
            .collect();
        let m = Maps::from_planes(&planes, 4, 1, 2);
        assert_eq!(m.to_planes(), planes);
        let s = m.pixel_shuffle();
        assert_eq!((s.height, s.width, s.channels), (2, 4, 1));
        // Row i, column 2x + j.
        assert_eq!(
            s.data,
            vec![0.0, 1.0, 100.0, 101.0, 10.0, 11.0, 110.0, 111.0]
        );
    }

    #[test]
    fn sums_means_and_affine() {
        let mut m = Maps::from_planes(&[1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0], 2, 2, 2);
        assert_eq!(m.sums(0..2, 1..2), vec![6.0, 60.0]);
        assert_eq!(m.means(), vec![2.5, 25.0]);
        m.affine(&[2.0, 0.5], &[1.0, 0.0]);
        assert_eq!(
            m.to_planes(),
            vec![3.0, 5.0, 7.0, 9.0, 5.0, 10.0, 15.0, 20.0]
        );
    }
}
