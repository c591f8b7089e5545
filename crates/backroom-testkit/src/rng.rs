//! A seeded random sequence for tests whose runs must repeat from a printed seed.

/// SplitMix64: small, fast and the same on every machine and every version, so a seed means the
/// same run.
#[derive(Debug, Clone)]
pub struct SeededRng(pub u64);

impl SeededRng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); `n` must not be 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SeededRng;

    #[test]
    fn a_seed_gives_the_same_sequence_and_a_shuffle_keeps_every_item() {
        // SplitMix64's published first output for seed 0.
        assert_eq!(SeededRng(0).next_u64(), 0xe220_a839_7b1d_cdaf);
        let (mut a, mut b) = (SeededRng(7), SeededRng(7));
        assert_eq!((a.next_u64(), a.unit()), (b.next_u64(), b.unit()));
        let mut items: Vec<u32> = (0..50).collect();
        SeededRng(2026).shuffle(&mut items);
        assert_ne!(items, (0..50).collect::<Vec<_>>());
        items.sort();
        assert_eq!(items, (0..50).collect::<Vec<_>>());
    }
}
