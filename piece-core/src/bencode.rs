//! Bencode: the one decoder and encoder of the workspace, used for
//! `.torrent` files, the peer wire's extension messages (BEP 9/10), tracker
//! answers, the LAN catalogue and resume files.
//!
//! # Format
//! - integer: `i<decimal>e`, canonical: no leading zeros, no `-0`, fits `i64`;
//! - byte string: `<len>:<bytes>`, `len` canonical decimal;
//! - list: `l<values>e`;
//! - dictionary: `d(<byte string key><value>)*e`, keys strictly increasing in
//!   raw byte order (sorted and unique).
//!
//! # Limits
//! Every decode is bounded by [`Limits`], which each format sets next to its
//! parser: the bytes one value may span ([`Limits::max_len`]), the nesting
//! depth and the total number of values, keys included (so memory use is
//! bounded by a small multiple of the input). String lengths are checked
//! against the remaining input before anything is sliced; strings are
//! borrowed, never copied. Every error carries the byte offset where it was
//! found.
//!
//! # Key order
//! [`KeyOrder::Strict`] refuses dictionaries whose keys are not sorted, for
//! formats we write ourselves (catalogue, resume files) and for checking
//! canonical output. [`KeyOrder::Lenient`] accepts them, for input from
//! other programs (torrents, trackers and peers often get the order wrong):
//! entries are sorted for lookup and [`Dict::in_order`] says whether they
//! were. Duplicate keys are refused in both modes, so two readers can never
//! see different values for one key.
//!
//! Dictionaries keep the raw bytes they were decoded from
//! ([`Dict::raw`]), so the info-hash can be computed over the info
//! dictionary exactly as it appears in the file.
//!
//! (The design names `bendy`; it is not used: this module needs raw byte
//! spans, byte offsets in errors, explicit limits and a lenient key order
//! together, and bendy's decoder refuses unsorted keys and offers no length
//! or item-count limit. See DESIGN.md.)

use std::fmt;
use std::io::Write as _;

/// How a decoder treats dictionary keys that are not in sorted order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrder {
    /// Unsorted keys are an error ([`BencodeErrorKind::UnsortedKeys`]).
    Strict,
    /// Unsorted keys are accepted and sorted for lookup; the dictionary is
    /// marked [`Dict::in_order`] `== false`.
    Lenient,
}

/// Decoding limits. Each format defines its own (a `const` next to its
/// parser), starting from [`Limits::strict`] or [`Limits::lenient`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes the decoded value may span ([`BencodeErrorKind::TooLarge`]).
    pub max_len: usize,
    /// Deepest nesting of lists/dicts (the top-level value is depth 1).
    pub max_depth: u32,
    /// Most values (of any kind, keys included) in one document.
    pub max_tokens: u32,
    /// Whether unsorted dictionary keys are refused.
    pub key_order: KeyOrder,
}

impl Default for Limits {
    /// [`Limits::strict`].
    fn default() -> Self {
        Limits::strict()
    }
}

impl Limits {
    /// Sorted keys required; depth 100 and 2,000,000 values, like
    /// libtorrent; no length limit beyond the input's.
    pub const fn strict() -> Self {
        Limits {
            max_len: usize::MAX,
            max_depth: 100,
            max_tokens: 2_000_000,
            key_order: KeyOrder::Strict,
        }
    }

    /// As [`Limits::strict`] but accepting unsorted dictionary keys (many
    /// real torrents, trackers and clients produce them).
    pub const fn lenient() -> Self {
        Limits {
            key_order: KeyOrder::Lenient,
            ..Limits::strict()
        }
    }
}

/// What went wrong while decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BencodeErrorKind {
    /// The input ended in the middle of a value.
    UnexpectedEof,
    /// A byte that cannot start or continue a value here.
    UnexpectedByte(u8),
    /// An integer that is not canonical (`-0`, leading zero, empty) or does not fit `i64`.
    BadInteger,
    /// A string length that is not canonical or longer than the remaining input.
    BadStringLength,
    /// Dictionary keys not in strictly increasing order.
    UnsortedKeys,
    /// Two identical keys in a dictionary.
    DuplicateKey,
    /// Nesting deeper than [`Limits::max_depth`].
    DepthExceeded,
    /// More values than [`Limits::max_tokens`].
    TooManyTokens,
    /// Bytes after the top-level value.
    TrailingData,
    /// The value spans more than [`Limits::max_len`] bytes.
    TooLarge {
        /// The limit.
        max: usize,
    },
}

/// A decoding error with the byte offset where it was detected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid bencoding at byte {offset}: {kind}")]
pub struct BencodeError {
    /// What was wrong.
    pub kind: BencodeErrorKind,
    /// Byte offset in the input where it was found.
    pub offset: usize,
}

impl fmt::Display for BencodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEof => write!(f, "unexpected end of data"),
            Self::UnexpectedByte(b) => write!(f, "unexpected byte 0x{b:02x}"),
            Self::BadInteger => write!(f, "malformed or out-of-range integer"),
            Self::BadStringLength => write!(f, "malformed string length or string past the end"),
            Self::UnsortedKeys => write!(f, "dictionary keys are not sorted"),
            Self::DuplicateKey => write!(f, "duplicate dictionary key"),
            Self::DepthExceeded => write!(f, "nesting too deep"),
            Self::TooManyTokens => write!(f, "too many values"),
            Self::TrailingData => write!(f, "trailing data after the value"),
            Self::TooLarge { max } => write!(f, "value longer than the limit of {max} bytes"),
        }
    }
}

/// A decoded value borrowing from the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// `i...e`.
    Int(i64),
    /// `<len>:<bytes>`, borrowed from the input.
    Bytes(&'a [u8]),
    /// `l...e`.
    List(Vec<Value<'a>>),
    /// `d...e`.
    Dict(Dict<'a>),
}

/// A decoded dictionary: sorted entries and the raw bytes (`d...e`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dict<'a> {
    /// Entries in key order.
    pub entries: Vec<(&'a [u8], Value<'a>)>,
    /// The dictionary exactly as encoded in the input.
    pub raw: &'a [u8],
    /// Were the keys strictly increasing in the input?
    pub in_order: bool,
}

impl<'a> Dict<'a> {
    /// The value for `key` (binary search; keys are sorted).
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        self.entries
            .binary_search_by(|(k, _)| (*k).cmp(key))
            .ok()
            .map(|i| &self.entries[i].1)
    }
}

impl<'a> Value<'a> {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
    /// The string as UTF-8, if it is a valid UTF-8 byte string.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }
    /// The list items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }
    /// `self[key]` for a dictionary.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        self.as_dict().and_then(|d| d.get(key))
    }
    /// Encodes this value (canonically) into a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        e.value(self);
        e.finish()
    }
}

/// Decodes exactly one value spanning all of `input`, with default limits.
pub fn decode(input: &[u8]) -> Result<Value<'_>, BencodeError> {
    decode_with(input, Limits::default())
}

/// Decodes exactly one value spanning all of `input`.
pub fn decode_with(input: &[u8], limits: Limits) -> Result<Value<'_>, BencodeError> {
    if input.len() > limits.max_len {
        return Err(BencodeError {
            kind: BencodeErrorKind::TooLarge {
                max: limits.max_len,
            },
            offset: limits.max_len,
        });
    }
    let (v, end) = decode_prefix(input, limits)?;
    if end != input.len() {
        return Err(BencodeError {
            kind: BencodeErrorKind::TrailingData,
            offset: end,
        });
    }
    Ok(v)
}

/// Decodes one value at the start of `input` and returns it with the
/// number of bytes it used (for a value followed by other data, as in
/// `ut_metadata` messages). The value must end within
/// [`Limits::max_len`] bytes; what follows it is not looked at.
pub fn decode_prefix(input: &[u8], limits: Limits) -> Result<(Value<'_>, usize), BencodeError> {
    let mut d = Decoder {
        buf: &input[..input.len().min(limits.max_len)],
        truncated: input.len() > limits.max_len,
        pos: 0,
        tokens: 0,
        limits,
    };
    let v = d.value(1)?;
    Ok((v, d.pos))
}

struct Decoder<'a> {
    /// The input, cut at [`Limits::max_len`].
    buf: &'a [u8],
    /// Was the input cut? Then running out of `buf` means "too large".
    truncated: bool,
    pos: usize,
    tokens: u32,
    limits: Limits,
}

impl<'a> Decoder<'a> {
    fn err<T>(&self, kind: BencodeErrorKind, offset: usize) -> Result<T, BencodeError> {
        Err(BencodeError { kind, offset })
    }

    /// The input ended at `offset` in the middle of a value.
    fn eof<T>(&self, offset: usize) -> Result<T, BencodeError> {
        if self.truncated {
            let max = self.limits.max_len;
            self.err(BencodeErrorKind::TooLarge { max }, max)
        } else {
            self.err(BencodeErrorKind::UnexpectedEof, offset)
        }
    }

    fn peek(&self) -> Result<u8, BencodeError> {
        match self.buf.get(self.pos) {
            Some(b) => Ok(*b),
            None => self.eof(self.pos),
        }
    }

    fn value(&mut self, depth: u32) -> Result<Value<'a>, BencodeError> {
        self.tokens += 1;
        if self.tokens > self.limits.max_tokens {
            return self.err(BencodeErrorKind::TooManyTokens, self.pos);
        }
        let start = self.pos;
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let n = self.integer(b'e')?;
                Ok(Value::Int(n))
            }
            b'0'..=b'9' => Ok(Value::Bytes(self.bytes()?)),
            b'l' => {
                if depth > self.limits.max_depth {
                    return self.err(BencodeErrorKind::DepthExceeded, start);
                }
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    if self.peek()? == b'e' {
                        self.pos += 1;
                        return Ok(Value::List(items));
                    }
                    items.push(self.value(depth + 1)?);
                }
            }
            b'd' => {
                if depth > self.limits.max_depth {
                    return self.err(BencodeErrorKind::DepthExceeded, start);
                }
                self.pos += 1;
                let mut entries: Vec<(&'a [u8], Value<'a>)> = Vec::new();
                let mut in_order = true;
                loop {
                    let b = self.peek()?;
                    if b == b'e' {
                        if !in_order {
                            entries.sort_by(|a, b| a.0.cmp(b.0));
                            if entries.windows(2).any(|w| w[0].0 == w[1].0) {
                                return self.err(BencodeErrorKind::DuplicateKey, start);
                            }
                        }
                        self.pos += 1;
                        return Ok(Value::Dict(Dict {
                            entries,
                            raw: &self.buf[start..self.pos],
                            in_order,
                        }));
                    }
                    if !b.is_ascii_digit() {
                        return self.err(BencodeErrorKind::UnexpectedByte(b), self.pos);
                    }
                    let key_at = self.pos;
                    self.tokens += 1;
                    if self.tokens > self.limits.max_tokens {
                        return self.err(BencodeErrorKind::TooManyTokens, self.pos);
                    }
                    let key = self.bytes()?;
                    if let Some((last, _)) = entries.last().filter(|_| in_order) {
                        match (*last).cmp(key) {
                            std::cmp::Ordering::Less => {}
                            std::cmp::Ordering::Equal => {
                                return self.err(BencodeErrorKind::DuplicateKey, key_at)
                            }
                            std::cmp::Ordering::Greater => {
                                if self.limits.key_order == KeyOrder::Strict {
                                    return self.err(BencodeErrorKind::UnsortedKeys, key_at);
                                }
                                in_order = false;
                            }
                        }
                    }
                    let v = self.value(depth + 1)?;
                    entries.push((key, v));
                }
            }
            b => self.err(BencodeErrorKind::UnexpectedByte(b), start),
        }
    }

    /// Parses a canonical decimal integer up to `term` (consumed).
    fn integer(&mut self, term: u8) -> Result<i64, BencodeError> {
        let start = self.pos;
        let kind = if term == b'e' {
            BencodeErrorKind::BadInteger
        } else {
            BencodeErrorKind::BadStringLength
        };
        let rest = &self.buf[start..];
        let Some(len) = rest.iter().take(21).position(|&b| b == term) else {
            if rest.len() < 21 {
                return self.eof(self.buf.len());
            }
            return self.err(kind, start);
        };
        let digits = &rest[..len];
        let (neg, body) = match digits.split_first() {
            Some((b'-', b)) if term == b'e' => (true, b),
            _ => (false, digits),
        };
        let canonical = !body.is_empty()
            && body.iter().all(u8::is_ascii_digit)
            && (body[0] != b'0' || body.len() == 1)
            && !(neg && body == b"0");
        if !canonical {
            return self.err(kind, start);
        }
        // at most 20 bytes of ASCII digits: parse with overflow checks
        let mut n: i64 = 0;
        for &d in body {
            let d = (d - b'0') as i64;
            n = match n.checked_mul(10).and_then(|n| {
                if neg {
                    n.checked_sub(d)
                } else {
                    n.checked_add(d)
                }
            }) {
                Some(n) => n,
                None => return self.err(kind, start),
            };
        }
        self.pos = start + len + 1;
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8], BencodeError> {
        let at = self.pos;
        let n = self.integer(b':')?;
        let remaining = self.buf.len() - self.pos;
        if n < 0 || n as u64 > remaining as u64 {
            if self.truncated {
                return self.eof(at);
            }
            return self.err(BencodeErrorKind::BadStringLength, at);
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }
}

/// A canonical bencode writer. Dictionary keys must be written in sorted
/// order by the caller (use [`Encoder::begin_dict`] with sorted keys, or
/// [`Encoder::value`], which sorts). Each format's tests decode what it
/// writes with [`KeyOrder::Strict`], which catches a key out of place.
#[derive(Default, Debug)]
pub struct Encoder {
    out: Vec<u8>,
}

impl Encoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Self::default()
    }
    /// The encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
    /// An encoder with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Encoder {
            out: Vec::with_capacity(n),
        }
    }
    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }
    /// Nothing written yet?
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }
    /// Writes an integer.
    pub fn int(&mut self, n: i64) -> &mut Self {
        // Writing to a Vec cannot fail.
        let _ = write!(self.out, "i{n}e");
        self
    }
    /// Writes a byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        let _ = write!(self.out, "{}:", b.len());
        self.out.extend_from_slice(b);
        self
    }
    /// Writes a UTF-8 string as a byte string.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }
    /// Starts a list; close it with [`Encoder::end`].
    pub fn begin_list(&mut self) -> &mut Self {
        self.out.push(b'l');
        self
    }
    /// Starts a dictionary; write key/value pairs in sorted key order and
    /// close it with [`Encoder::end`].
    pub fn begin_dict(&mut self) -> &mut Self {
        self.out.push(b'd');
        self
    }
    /// Closes the innermost list or dictionary.
    pub fn end(&mut self) -> &mut Self {
        self.out.push(b'e');
        self
    }
    /// Appends already-encoded bytes (e.g. an info dictionary kept raw).
    pub fn raw(&mut self, encoded: &[u8]) -> &mut Self {
        self.out.extend_from_slice(encoded);
        self
    }
    /// Writes a [`Value`]. Dictionary entries are written in sorted order
    /// (sorted here if they are not already).
    pub fn value(&mut self, v: &Value<'_>) -> &mut Self {
        match v {
            Value::Int(i) => {
                self.int(*i);
            }
            Value::Bytes(b) => {
                self.bytes(b);
            }
            Value::List(l) => {
                self.begin_list();
                for x in l {
                    self.value(x);
                }
                self.end();
            }
            Value::Dict(d) => {
                self.begin_dict();
                let mut refs: Vec<&(&[u8], Value<'_>)> = d.entries.iter().collect();
                refs.sort_by(|a, b| a.0.cmp(b.0));
                for (k, x) in refs {
                    self.bytes(k);
                    self.value(x);
                }
                self.end();
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(input: &[u8]) -> BencodeErrorKind {
        decode(input).unwrap_err().kind
    }

    #[test]
    fn decodes_basic_values() {
        assert_eq!(decode(b"i42e").unwrap(), Value::Int(42));
        assert_eq!(decode(b"i-7e").unwrap(), Value::Int(-7));
        assert_eq!(decode(b"i0e").unwrap(), Value::Int(0));
        assert_eq!(decode(b"4:spam").unwrap(), Value::Bytes(b"spam"));
        assert_eq!(decode(b"0:").unwrap(), Value::Bytes(b""));
        let v = decode(b"l4:spami3ee").unwrap();
        assert_eq!(v.as_list().unwrap().len(), 2);
        let v = decode(b"d3:bar4:spam3:fooi42ee").unwrap();
        assert_eq!(v.get(b"foo").unwrap().as_int(), Some(42));
        assert_eq!(v.get(b"bar").unwrap().as_str(), Some("spam"));
        assert!(v.get(b"baz").is_none());
        assert_eq!(v.as_dict().unwrap().raw, b"d3:bar4:spam3:fooi42ee");
    }

    #[test]
    fn raw_span_of_nested_dict() {
        let input = b"d4:infod1:ai1eee";
        let v = decode(input).unwrap();
        assert_eq!(v.get(b"info").unwrap().as_dict().unwrap().raw, b"d1:ai1ee");
    }

    #[test]
    fn rejects_non_canonical_and_malformed() {
        use BencodeErrorKind::*;
        assert_eq!(kind(b"i-0e"), BadInteger);
        assert_eq!(kind(b"i03e"), BadInteger);
        assert_eq!(kind(b"ie"), BadInteger);
        assert_eq!(kind(b"i-e"), BadInteger);
        assert_eq!(kind(b"i1x2e"), BadInteger);
        assert_eq!(kind(b"i9223372036854775808e"), BadInteger);
        assert_eq!(
            decode(b"i-9223372036854775808e").unwrap(),
            Value::Int(i64::MIN)
        );
        assert_eq!(kind(b"i123456789012345678901234e"), BadInteger);
        assert_eq!(kind(b"i12"), UnexpectedEof);
        assert_eq!(kind(b"01:a"), BadStringLength);
        assert_eq!(kind(b"5:abc"), BadStringLength);
        assert_eq!(kind(b"99999999999999999999:a"), BadStringLength);
        assert_eq!(kind(b"d1:bi1e1:ai2ee"), UnsortedKeys);
        assert_eq!(kind(b"d1:ai1e1:ai2ee"), DuplicateKey);
        assert_eq!(kind(b"di1ei2ee"), UnexpectedByte(b'i'));
        assert_eq!(kind(b"l"), UnexpectedEof);
        assert_eq!(kind(b""), UnexpectedEof);
        assert_eq!(kind(b"i1ei2e"), TrailingData);
        assert_eq!(kind(b"x"), UnexpectedByte(b'x'));
        let e = decode(b"d1:ai1e1:ai2ee").unwrap_err();
        assert_eq!(e.offset, 7);
        assert!(e.to_string().contains("byte 7"), "{e}");
    }

    #[test]
    fn limits_are_enforced() {
        let deep = [vec![b'l'; 101], vec![b'e'; 101]].concat();
        assert_eq!(kind(&deep), BencodeErrorKind::DepthExceeded);
        let ok = [vec![b'l'; 100], vec![b'e'; 100]].concat();
        assert!(decode(&ok).is_ok());
        let lim = Limits {
            max_depth: 10,
            max_tokens: 3,
            ..Limits::strict()
        };
        assert!(decode_with(b"li1ei2ee", lim).is_ok());
        assert_eq!(
            decode_with(b"li1ei2ei3ee", lim).unwrap_err().kind,
            BencodeErrorKind::TooManyTokens
        );
    }

    #[test]
    fn encoder_round_trips() {
        for input in [
            &b"d3:bar4:spam3:fooi42ee"[..],
            b"li-1ei0e0:lee",
            b"d0:de1:ali1eee",
        ] {
            assert_eq!(decode(input).unwrap().to_bytes(), input);
        }
        let mut e = Encoder::new();
        e.begin_dict()
            .str("a")
            .int(1)
            .str("b")
            .begin_list()
            .bytes(b"x")
            .end()
            .end();
        assert_eq!(e.finish(), b"d1:ai1e1:bl1:xee");
    }

    #[test]
    fn lenient_key_order() {
        let v = decode_with(b"d1:bi1e1:ai2ee", Limits::lenient()).unwrap();
        let d = v.as_dict().unwrap();
        assert!(!d.in_order);
        assert_eq!(d.get(b"a").unwrap().as_int(), Some(2));
        assert_eq!(d.get(b"b").unwrap().as_int(), Some(1));
        assert!(decode_with(b"d1:ai1e1:ai2ee", Limits::lenient()).is_err());
        assert!(decode_with(b"d1:bi1e1:ai2e1:bi3ee", Limits::lenient()).is_err());
        assert!(
            decode(b"d1:ai1e1:bi2ee")
                .unwrap()
                .as_dict()
                .unwrap()
                .in_order
        );
    }

    #[test]
    fn prefix_decoding() {
        let (v, n) = decode_prefix(b"d1:ai1eeXYZ", Limits::default()).unwrap();
        assert_eq!(n, 8);
        assert_eq!(v.get(b"a").unwrap().as_int(), Some(1));
    }

    #[test]
    fn length_limit() {
        let lim = |max_len| Limits {
            max_len,
            ..Limits::strict()
        };
        let too_large = |r: Result<(Value<'_>, usize), BencodeError>, max| {
            let e = r.unwrap_err();
            assert_eq!(e.kind, BencodeErrorKind::TooLarge { max }, "{e}");
        };
        assert!(decode_with(b"d1:ai1ee", lim(8)).is_ok());
        assert_eq!(
            decode_with(b"d1:ai1ee", lim(7)).unwrap_err().kind,
            BencodeErrorKind::TooLarge { max: 7 }
        );
        // A prefix value must end within the limit; what follows is free.
        assert_eq!(
            decode_prefix(b"d1:ai1eeDATA", lim(8)).unwrap().1,
            8,
            "data after the value does not count"
        );
        too_large(decode_prefix(b"d1:ai1eeDATA", lim(7)), 7);
        // Cut inside a string, its length, an integer or a key.
        too_large(decode_prefix(b"l5:abcdee", lim(4)), 4);
        too_large(decode_prefix(b"l12345:", lim(4)), 4);
        too_large(decode_prefix(b"li12345ee", lim(4)), 4);
        too_large(decode_prefix(b"d3:abci1ee", lim(3)), 3);
        // Genuine errors inside the limit keep their kind.
        assert_eq!(
            decode_prefix(b"l01:ae", lim(100)).unwrap_err().kind,
            BencodeErrorKind::BadStringLength
        );
        assert_eq!(
            decode_prefix(b"li1e", lim(100)).unwrap_err().kind,
            BencodeErrorKind::UnexpectedEof
        );
    }
}
