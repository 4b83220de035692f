//! A small, bounded bencode reader and writer for tracker messages.
//!
//! Kept local (instead of `bendy`) because real trackers sometimes send
//! dictionaries whose keys are not sorted, which `bendy` refuses; this
//! reader accepts them (last key wins). Nesting depth and item count are
//! bounded; every error is a value, never a panic.

use std::collections::BTreeMap;

/// A decoded bencode value borrowing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    List(Vec<Value<'a>>),
    Dict(BTreeMap<&'a [u8], Value<'a>>),
}

const MAX_DEPTH: usize = 16;
const MAX_ITEMS: usize = 200_000;

/// Parses one complete value; trailing bytes are an error.
pub fn parse(data: &[u8]) -> Result<Value<'_>, String> {
    let mut p = Parser {
        data,
        pos: 0,
        items: 0,
    };
    let v = p.value(0)?;
    if p.pos != data.len() {
        return Err(format!(
            "{} trailing bytes after the value",
            data.len() - p.pos
        ));
    }
    Ok(v)
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    items: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Result<u8, String> {
        self.data
            .get(self.pos)
            .copied()
            .ok_or_else(|| "unexpected end of data".to_string())
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, String> {
        if depth > MAX_DEPTH {
            return Err("nesting too deep".into());
        }
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err("too many items".into());
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let end = self.find(b'e')?;
                let s =
                    std::str::from_utf8(&self.data[self.pos..end]).map_err(|_| "bad integer")?;
                let n: i64 = s.parse().map_err(|_| format!("bad integer {s:?}"))?;
                self.pos = end + 1;
                Ok(Value::Int(n))
            }
            b'l' => {
                self.pos += 1;
                let mut v = Vec::new();
                while self.peek()? != b'e' {
                    v.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(v))
            }
            b'd' => {
                self.pos += 1;
                let mut m = BTreeMap::new();
                while self.peek()? != b'e' {
                    let k = self.bytes()?;
                    let v = self.value(depth + 1)?;
                    m.insert(k, v);
                }
                self.pos += 1;
                Ok(Value::Dict(m))
            }
            b'0'..=b'9' => Ok(Value::Bytes(self.bytes()?)),
            c => Err(format!("unexpected byte 0x{c:02x} at offset {}", self.pos)),
        }
    }

    fn find(&self, c: u8) -> Result<usize, String> {
        // integers and lengths are short: bound the scan
        let lim = (self.pos + 24).min(self.data.len());
        self.data[self.pos..lim]
            .iter()
            .position(|&b| b == c)
            .map(|i| self.pos + i)
            .ok_or_else(|| "unterminated integer or length".to_string())
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let colon = self.find(b':')?;
        let s = std::str::from_utf8(&self.data[self.pos..colon]).map_err(|_| "bad length")?;
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("bad string length {s:?}"));
        }
        let len: usize = s.parse().map_err(|_| format!("bad string length {s:?}"))?;
        let start = colon + 1;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| format!("string of {len} bytes runs past the end"))?;
        self.pos = end;
        Ok(&self.data[start..end])
    }
}

/// Appends a byte string.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// Appends an integer.
pub fn put_int(out: &mut Vec<u8>, n: i64) {
    out.push(b'i');
    out.extend_from_slice(n.to_string().as_bytes());
    out.push(b'e');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let v = parse(b"d8:intervali30e5:peers6:abcdefe").unwrap();
        let Value::Dict(m) = v else { panic!() };
        assert_eq!(m[&b"interval"[..]], Value::Int(30));
        assert_eq!(m[&b"peers"[..]], Value::Bytes(b"abcdef"));
        // unsorted keys are accepted
        assert!(parse(b"d1:bi1e1:ai2ee").is_ok());
        for bad in [
            &b""[..],
            b"i12",
            b"5:abc",
            b"d1:a",
            b"x",
            b"i1ei2e",
            b"99999999999999999999999:a",
            b"-1:a",
            b"ie",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = vec![b'l'; 100];
        assert!(parse(&deep).is_err());
    }
}
