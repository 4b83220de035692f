//! A minimal, bounded bencode reader/writer for the small dictionaries of
//! BEP 10 (extension handshake) and BEP 9 (ut_metadata) messages.
//!
//! Input comes from peers: the reader never recurses deeper than
//! [`MAX_DEPTH`], never allocates more than the input size, and reports how
//! many bytes the value used (ut_metadata data follows its dictionary).

use std::collections::BTreeMap;

const MAX_DEPTH: usize = 8;

/// A decoded value borrowing its strings from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    List(Vec<Value<'a>>),
    Dict(BTreeMap<&'a [u8], Value<'a>>),
}

impl<'a> Value<'a> {
    pub(crate) fn get(&self, k: &str) -> Option<&Value<'a>> {
        match self {
            Value::Dict(d) => d.get(k.as_bytes()),
            _ => None,
        }
    }
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    #[allow(dead_code)]
    pub(crate) fn bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// Parses one value from the front of `b`; returns it and its length.
pub(crate) fn parse(b: &[u8]) -> Option<(Value<'_>, usize)> {
    let mut pos = 0;
    let v = parse_at(b, &mut pos, 0)?;
    Some((v, pos))
}

fn parse_at<'a>(b: &'a [u8], pos: &mut usize, depth: usize) -> Option<Value<'a>> {
    if depth > MAX_DEPTH {
        return None;
    }
    match *b.get(*pos)? {
        b'i' => {
            let end = *pos + 1 + b[*pos + 1..].iter().position(|&c| c == b'e')?;
            let s = std::str::from_utf8(&b[*pos + 1..end]).ok()?;
            if s.len() > 20 {
                return None;
            }
            let i: i64 = s.parse().ok()?;
            *pos = end + 1;
            Some(Value::Int(i))
        }
        b'l' => {
            *pos += 1;
            let mut v = Vec::new();
            while *b.get(*pos)? != b'e' {
                v.push(parse_at(b, pos, depth + 1)?);
            }
            *pos += 1;
            Some(Value::List(v))
        }
        b'd' => {
            *pos += 1;
            let mut d = BTreeMap::new();
            while *b.get(*pos)? != b'e' {
                let k = match parse_at(b, pos, depth + 1)? {
                    Value::Bytes(k) => k,
                    _ => return None,
                };
                let v = parse_at(b, pos, depth + 1)?;
                d.insert(k, v);
            }
            *pos += 1;
            Some(Value::Dict(d))
        }
        b'0'..=b'9' => {
            let colon = *pos + b[*pos..].iter().take(12).position(|&c| c == b':')?;
            let n: usize = std::str::from_utf8(&b[*pos..colon]).ok()?.parse().ok()?;
            let start = colon + 1;
            let end = start.checked_add(n)?;
            if end > b.len() {
                return None;
            }
            *pos = end;
            Some(Value::Bytes(&b[start..end]))
        }
        _ => None,
    }
}

/// Writes bencode into a byte vector (keys must be given in sorted order).
#[derive(Default)]
pub(crate) struct Writer(pub Vec<u8>);

impl Writer {
    pub(crate) fn dict(&mut self) -> &mut Self {
        self.0.push(b'd');
        self
    }
    pub(crate) fn end(&mut self) -> &mut Self {
        self.0.push(b'e');
        self
    }
    pub(crate) fn bytes(&mut self, s: &[u8]) -> &mut Self {
        self.0.extend_from_slice(s.len().to_string().as_bytes());
        self.0.push(b':');
        self.0.extend_from_slice(s);
        self
    }
    pub(crate) fn int(&mut self, i: i64) -> &mut Self {
        self.0.push(b'i');
        self.0.extend_from_slice(i.to_string().as_bytes());
        self.0.push(b'e');
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_write() {
        let mut w = Writer::default();
        w.dict()
            .bytes(b"m")
            .dict()
            .bytes(b"ut_metadata")
            .int(3)
            .end();
        w.bytes(b"v").bytes(b"x").end();
        let (v, n) = parse(&w.0).unwrap();
        assert_eq!(n, w.0.len());
        assert_eq!(
            v.get("m").unwrap().get("ut_metadata").unwrap().int(),
            Some(3)
        );
        assert_eq!(v.get("v").unwrap().bytes(), Some(&b"x"[..]));
        // trailing data is left alone
        let mut t = w.0.clone();
        t.extend_from_slice(b"RAW");
        assert_eq!(parse(&t).unwrap().1, w.0.len());
        // hostile inputs
        assert!(parse(b"d").is_none());
        assert!(parse(b"99999999999999999999:x").is_none());
        assert!(parse(b"5:abc").is_none());
        assert!(parse(&[b'l'; 100]).is_none());
        assert!(parse(b"i12").is_none());
        assert!(parse(b"di1ei2ee").is_none());
    }
}
