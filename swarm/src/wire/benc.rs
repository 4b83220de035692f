//! Small bencode helpers shared by the BEP 10 and BEP 9 codecs: a writer
//! for the few value shapes we emit, and bounded reading on top of bendy.

use bendy::decoding::{Decoder, Object};

/// Deepest nesting we accept in an extension dictionary (the known fields
/// need 2; unknown keys get some slack but cannot recurse without bound).
pub(crate) const MAX_DEPTH: usize = 16;

/// Append a bencoded byte string.
pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// Append a bencoded integer.
pub(crate) fn put_int(out: &mut Vec<u8>, v: i64) {
    out.push(b'i');
    out.extend_from_slice(v.to_string().as_bytes());
    out.push(b'e');
}

/// A decoder with our depth limit.
pub(crate) fn decoder(buf: &[u8]) -> Decoder<'_> {
    Decoder::new(buf).with_max_depth(MAX_DEPTH)
}

/// Length of the dictionary at the start of `buf` (bytes after it are
/// left alone). `Err` holds a human-readable reason.
pub(crate) fn dict_len(buf: &[u8]) -> Result<usize, String> {
    let mut d = decoder(buf);
    let len = match d.next_object() {
        Ok(Some(Object::Dict(dict))) => dict.into_raw().map(|r| r.len()).map_err(|e| e.to_string()),
        Ok(Some(_)) => Err("not a dictionary".to_string()),
        Ok(None) => Err("empty input".to_string()),
        Err(e) => Err(e.to_string()),
    };
    len
}

/// An integer object as i64, `None` if it is not an integer or overflows.
pub(crate) fn int(obj: Object<'_, '_>) -> Option<i64> {
    match obj {
        Object::Integer(s) => s.parse().ok(),
        _ => None,
    }
}

/// A byte-string object, `None` if it is something else.
pub(crate) fn bytes<'s>(obj: Object<'_, 's>) -> Option<&'s [u8]> {
    match obj {
        Object::Bytes(b) => Some(b),
        _ => None,
    }
}
