//! A fixed-length bit set in the BitTorrent wire layout: bit 0 is the high
//! bit of byte 0, spare bits at the end must be zero.

use crate::types::PieceIndex;

/// A set of pieces, one bit each, as carried by the `bitfield` message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
    ones: u32,
}

/// Why a peer's bitfield was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BitfieldError {
    /// The message's length does not match the torrent's piece count.
    #[error("bitfield has {got} bytes, expected {expected}")]
    WrongSize {
        /// Bytes received.
        got: usize,
        /// Bytes the piece count needs.
        expected: usize,
    },
    /// Bits past the last piece are set (BEP 3 requires them clear).
    #[error("bitfield has spare bits set past the last piece")]
    SpareBitsSet,
}

impl Bitfield {
    /// All zeros, `len` bits.
    pub fn new(len: u32) -> Self {
        Bitfield {
            bytes: vec![0; (len as usize).div_ceil(8)],
            len,
            ones: 0,
        }
    }

    /// All ones, `len` bits.
    pub fn full(len: u32) -> Self {
        let mut b = Self::new(len);
        for i in 0..len {
            b.set(i);
        }
        b
    }

    /// Parses a wire bitfield for a torrent of `len` pieces: the size must
    /// be exact and spare bits zero.
    pub fn from_wire(data: &[u8], len: u32) -> Result<Self, BitfieldError> {
        let expected = (len as usize).div_ceil(8);
        if data.len() != expected {
            return Err(BitfieldError::WrongSize {
                got: data.len(),
                expected,
            });
        }
        let spare = (expected * 8) as u32 - len;
        if spare > 0 && data[expected - 1] & ((1u8 << spare) - 1) != 0 {
            return Err(BitfieldError::SpareBitsSet);
        }
        let ones = data.iter().map(|b| b.count_ones()).sum();
        Ok(Bitfield {
            bytes: data.to_vec(),
            len,
            ones,
        })
    }

    /// The wire bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// Number of bits (pieces).
    #[inline]
    pub fn len(&self) -> u32 {
        self.len
    }
    /// Whether it has no bits at all (a torrent with no pieces).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Number of set bits.
    #[inline]
    pub fn count(&self) -> u32 {
        self.ones
    }
    /// Whether every bit is set (a seed).
    #[inline]
    pub fn is_full(&self) -> bool {
        self.ones == self.len
    }
    /// Whether no bit is set.
    #[inline]
    pub fn none(&self) -> bool {
        self.ones == 0
    }

    /// Bit `i`; `false` when `i` is out of range.
    #[inline]
    pub fn get(&self, i: u32) -> bool {
        i < self.len && self.bytes[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
    }
    /// Whether piece `p` is in the set.
    #[inline]
    pub fn has(&self, p: PieceIndex) -> bool {
        self.get(p.get())
    }

    /// Sets bit `i`; returns whether it was newly set. Panics if `i` is out
    /// of range (callers hold a validated [`PieceIndex`]).
    #[inline]
    pub fn set(&mut self, i: u32) -> bool {
        assert!(i < self.len, "bit {i} out of range {}", self.len);
        let b = &mut self.bytes[(i / 8) as usize];
        let m = 0x80 >> (i % 8);
        let was = *b & m != 0;
        *b |= m;
        if !was {
            self.ones += 1;
        }
        !was
    }

    /// Clears bit `i`; returns whether it was set.
    #[inline]
    pub fn clear(&mut self, i: u32) -> bool {
        assert!(i < self.len, "bit {i} out of range {}", self.len);
        let b = &mut self.bytes[(i / 8) as usize];
        let m = 0x80 >> (i % 8);
        let was = *b & m != 0;
        *b &= !m;
        if was {
            self.ones -= 1;
        }
        was
    }

    /// Indexes of set bits, ascending.
    pub fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.bytes.iter().enumerate().flat_map(move |(bi, &byte)| {
            let base = bi as u32 * 8;
            (0..8u32).filter_map(move |k| (byte & (0x80 >> k) != 0).then_some(base + k))
        })
    }

    /// Indexes of clear bits, ascending.
    pub fn zeros(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(move |&i| !self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_roundtrip_and_validation() {
        let mut b = Bitfield::new(10);
        assert!(b.set(0));
        assert!(!b.set(0));
        b.set(9);
        assert_eq!(b.as_bytes(), &[0x80, 0x40]);
        assert_eq!(b.count(), 2);
        let c = Bitfield::from_wire(b.as_bytes(), 10).unwrap();
        assert_eq!(c, b);
        assert_eq!(c.ones().collect::<Vec<_>>(), vec![0, 9]);
        assert!(Bitfield::from_wire(&[0x80, 0x20], 10).is_err());
        assert!(Bitfield::from_wire(&[0x80], 10).is_err());
        assert!(Bitfield::from_wire(&[], 0).unwrap().is_full());
        assert!(Bitfield::full(10).is_full());
        assert!(b.clear(9));
        assert_eq!(b.count(), 1);
        assert_eq!(b.zeros().count(), 9);
    }
}
