//! Rows of bounded size: a file is untrusted, and one endless line (or an unclosed CSV quote
//! that swallows the rest of the file) must not take the memory that the import promises to
//! keep constant.

use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The longest row accepted: a product's fields take a few KiB at most.
pub const MAX_ROW: usize = 1 << 20;

pub enum Line {
    Eof,
    Bytes(Vec<u8>),
    /// Longer than MAX_ROW: skipped to its end, never held whole.
    TooLong,
}

/// The next line (newline included) and how many bytes it took.
pub fn read_line(r: &mut impl BufRead) -> io::Result<(Line, u64)> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_ROW as u64 + 1)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok((Line::Eof, 0));
    }
    if buf.len() <= MAX_ROW || buf.last() == Some(&b'\n') {
        return Ok((Line::Bytes(buf), n as u64));
    }
    let mut total = n as u64;
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            break;
        }
        match avail.iter().position(|b| *b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                total += i as u64 + 1;
                break;
            }
            None => {
                let len = avail.len();
                r.consume(len);
                total += len as u64;
            }
        }
    }
    Ok((Line::TooLong, total))
}

/// Counts the bytes read since the last `reset`; past MAX_ROW (plus the CSV reader's own
/// read-ahead) it fails the read, which stops the CSV reader with this reason.
pub struct Guarded<R> {
    inner: R,
    since: Arc<AtomicU64>,
}

impl<R> Guarded<R> {
    pub fn new(inner: R) -> (Guarded<R>, Arc<AtomicU64>) {
        let since = Arc::new(AtomicU64::new(0));
        (
            Guarded {
                inner,
                since: since.clone(),
            },
            since,
        )
    }
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.since.load(Ordering::Relaxed) > 2 * MAX_ROW as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a row is longer than 1 MiB (an unclosed quote?)",
            ));
        }
        let n = self.inner.read(buf)?;
        self.since.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_skipped_whole() {
        let mut text = b"short\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_ROW + 10));
        text.extend(b"\nnext\nlast");
        let mut r = io::BufReader::with_capacity(4096, &text[..]);
        let mut got = Vec::new();
        loop {
            match read_line(&mut r).unwrap() {
                (Line::Eof, _) => break,
                (Line::Bytes(b), n) => got.push((String::from_utf8(b).unwrap(), n)),
                (Line::TooLong, n) => got.push(("too long".into(), n)),
            }
        }
        let want = [
            ("short\n".to_string(), 6),
            ("too long".into(), MAX_ROW as u64 + 11),
            ("next\n".into(), 5),
            ("last".into(), 4),
        ];
        assert_eq!(got, want);
    }
}
