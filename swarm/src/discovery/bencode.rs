//! A tiny, strictly bounded bencode reader/writer for the discovery
//! messages (the share catalogue).
//!
//! It only knows the four bencode types and refuses anything beyond
//! [`MAX_DEPTH`] nesting or [`MAX_NODES`] values, so a hostile peer cannot
//! make it recurse deeply or allocate more than a small multiple of the
//! (already bounded) input.

use std::collections::BTreeMap;

/// Deepest nesting accepted (the catalogue needs 3).
pub const MAX_DEPTH: usize = 8;
/// Most values (of any type) in one document.
pub const MAX_NODES: usize = 200_000;

/// A decoded bencode value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `i<n>e`
    Int(i64),
    /// `<len>:<bytes>`
    Bytes(Vec<u8>),
    /// `l...e`
    List(Vec<Value>),
    /// `d...e` with byte-string keys (sorted on output).
    Dict(BTreeMap<Vec<u8>, Value>),
}

/// Why a document is not acceptable bencode.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BencodeError {
    #[error("bencode ends early")]
    Eof,
    #[error("unexpected byte {byte:#04x} at offset {at}")]
    Unexpected { byte: u8, at: usize },
    #[error("bad integer at offset {at}")]
    BadInt { at: usize },
    #[error("dictionary keys not sorted or duplicated at offset {at}")]
    KeyOrder { at: usize },
    #[error("nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("more than {MAX_NODES} values")]
    TooMany,
    #[error("{extra} trailing bytes after the value")]
    Trailing { extra: usize },
}

impl Value {
    /// Bencode this value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Value::Bytes(b) => {
                out.extend_from_slice(b.len().to_string().as_bytes());
                out.push(b':');
                out.extend_from_slice(b);
            }
            Value::List(l) => {
                out.push(b'l');
                for v in l {
                    v.encode(out);
                }
                out.push(b'e');
            }
            Value::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    Value::Bytes(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decode exactly one value filling `input`.
    pub fn decode(input: &[u8]) -> Result<Value, BencodeError> {
        let mut p = Parser {
            buf: input,
            pos: 0,
            nodes: 0,
        };
        let v = p.value(0)?;
        if p.pos != input.len() {
            return Err(BencodeError::Trailing {
                extra: input.len() - p.pos,
            });
        }
        Ok(v)
    }

    /// Look a key up in a dictionary.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    /// The byte string as UTF-8, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
    /// The list, if this is one.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    nodes: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Result<u8, BencodeError> {
        self.buf.get(self.pos).copied().ok_or(BencodeError::Eof)
    }

    fn value(&mut self, depth: usize) -> Result<Value, BencodeError> {
        if depth > MAX_DEPTH {
            return Err(BencodeError::TooDeep);
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(BencodeError::TooMany);
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let start = self.pos;
                let n = self.int_until(b'e')?;
                if n.is_none() {
                    return Err(BencodeError::BadInt { at: start });
                }
                Ok(Value::Int(n.unwrap_or_default()))
            }
            b'0'..=b'9' => Ok(Value::Bytes(self.bytes()?.to_vec())),
            b'l' => {
                self.pos += 1;
                let mut l = Vec::new();
                while self.peek()? != b'e' {
                    l.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(l))
            }
            b'd' => {
                self.pos += 1;
                let mut d = BTreeMap::new();
                let mut last: Option<Vec<u8>> = None;
                while self.peek()? != b'e' {
                    let at = self.pos;
                    let k = self.bytes()?.to_vec();
                    if last.as_ref().is_some_and(|l| *l >= k) {
                        return Err(BencodeError::KeyOrder { at });
                    }
                    let v = self.value(depth + 1)?;
                    last = Some(k.clone());
                    d.insert(k, v);
                }
                self.pos += 1;
                Ok(Value::Dict(d))
            }
            byte => Err(BencodeError::Unexpected { byte, at: self.pos }),
        }
    }

    /// Parse a decimal integer terminated by `end`; `None` if malformed.
    fn int_until(&mut self, end: u8) -> Result<Option<i64>, BencodeError> {
        let rest = &self.buf[self.pos..];
        let Some(len) = rest.iter().take(21).position(|&b| b == end) else {
            return if rest.len() < 21 {
                Err(BencodeError::Eof)
            } else {
                Ok(None)
            };
        };
        let digits = &rest[..len];
        self.pos += len + 1;
        let s = std::str::from_utf8(digits).ok();
        let ok = s.filter(|s| {
            let body = s.strip_prefix('-').unwrap_or(s);
            !body.is_empty()
                && body.bytes().all(|c| c.is_ascii_digit())
                && !(body.starts_with('0') && body.len() > 1)
                && *s != "-0"
        });
        Ok(ok.and_then(|s| s.parse().ok()))
    }

    fn bytes(&mut self) -> Result<&[u8], BencodeError> {
        let at = self.pos;
        let n = self.int_until(b':')?.ok_or(BencodeError::BadInt { at })?;
        let n = usize::try_from(n).map_err(|_| BencodeError::BadInt { at })?;
        if n > self.buf.len() - self.pos {
            return Err(BencodeError::Eof);
        }
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_and_reencodes() {
        let src = b"d1:ai-42e1:bl3:xyzi0eee";
        let v = Value::decode(src).unwrap();
        assert_eq!(v.get("a").and_then(Value::as_int), Some(-42));
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(out, src);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b""[..],
            b"i",
            b"i-0e",
            b"i03e",
            b"ie",
            b"5:abc",
            b"d1:b0:1:a0:e",
            b"d1:a0:1:a0:e",
            b"l",
            b"x",
            b"i1ei2e",
            b"99999999999999999999999:",
            b"-1:",
        ] {
            assert!(
                Value::decode(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn depth_is_bounded() {
        let mut s = vec![b'l'; 10_000];
        s.extend(vec![b'e'; 10_000]);
        assert_eq!(Value::decode(&s), Err(BencodeError::TooDeep));
    }

    #[test]
    fn node_count_is_bounded() {
        let mut s = vec![b'l'];
        for _ in 0..MAX_NODES + 1 {
            s.extend_from_slice(b"i0e");
        }
        s.push(b'e');
        assert_eq!(Value::decode(&s), Err(BencodeError::TooMany));
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = Value::decode(&data);
        }
    }
}
