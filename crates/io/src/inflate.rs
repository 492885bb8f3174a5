//! Decompression on its own thread.
//!
//! The reader thread splits input into records for every worker; inflating
//! gzip on that same thread caps the whole run near one core's inflate speed
//! (100-300 MB/s) however many workers wait. A [`ThreadedRead`] moves the
//! decoder to a thread of its own that hands over filled chunks through a
//! bounded channel, so memory stays at `DEPTH` chunks per open file
//! (`AHEAD_DEPTH` for a file opened before its turn).

use crossbeam_channel::{bounded, Receiver};
use std::io::{self, BufRead, Read};
use std::thread;

/// Bytes per chunk handed over.
const CHUNK: usize = 256 << 10;
/// Chunks that may wait in the channel of the file being read.
pub const DEPTH: usize = 8;
/// Chunks that may wait for a file opened ahead of its turn (8 MiB): the
/// runner opens the next files early so that their decoders work while the
/// current file is read; one decoder alone caps a many-core run.
pub const AHEAD_DEPTH: usize = 32;

/// A `BufRead` over chunks produced by a decoder on another thread.
pub struct ThreadedRead {
    rx: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
}

impl ThreadedRead {
    /// Starts reading `inner` on a new thread. Errors from `inner` arrive
    /// in order, after the bytes read before them.
    pub fn spawn(inner: Box<dyn Read + Send>) -> io::Result<ThreadedRead> {
        Self::spawn_with_depth(inner, DEPTH)
    }

    /// [`ThreadedRead::spawn`] with room for `depth` chunks read ahead.
    pub fn spawn_with_depth(
        mut inner: Box<dyn Read + Send>,
        depth: usize,
    ) -> io::Result<ThreadedRead> {
        let (tx, rx) = bounded::<io::Result<Vec<u8>>>(depth.max(1));
        thread::Builder::new()
            .name("sluicebox-inflate".into())
            .spawn(move || loop {
                let mut buf = vec![0u8; CHUNK];
                let mut filled = 0;
                let result = loop {
                    match inner.read(&mut buf[filled..]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => {
                            filled += n;
                            if filled == buf.len() {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                buf.truncate(filled);
                let end = filled < CHUNK;
                if filled > 0 && tx.send(Ok(buf)).is_err() {
                    return; // the reader went away
                }
                if let Err(e) = result {
                    let _ = tx.send(Err(e));
                    return;
                }
                if end {
                    return;
                }
            })?;
        Ok(ThreadedRead {
            rx,
            chunk: Vec::new(),
            pos: 0,
            done: false,
        })
    }
}

impl Read for ThreadedRead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ThreadedRead {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.chunk.len() && !self.done {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                // The decoder thread finished (end of input).
                Err(_) => self.done = true,
            }
        }
        Ok(&self.chunk[self.pos.min(self.chunk.len())..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.chunk.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that yields odd-sized pieces, then fails.
    struct Flaky {
        data: Vec<u8>,
        at: usize,
        fail_at_end: bool,
    }

    impl Read for Flaky {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.at >= self.data.len() {
                return if self.fail_at_end {
                    Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated"))
                } else {
                    Ok(0)
                };
            }
            let n = out.len().min(7919).min(self.data.len() - self.at);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn bytes_arrive_whole_and_in_order() {
        let data: Vec<u8> = (0..(3 * CHUNK + 12345)).map(|i| (i % 251) as u8).collect();
        let mut r = ThreadedRead::spawn(Box::new(Flaky {
            data: data.clone(),
            at: 0,
            fail_at_end: false,
        }))
        .unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got, data);
    }

    #[test]
    fn an_error_comes_after_the_bytes_before_it() {
        let data = b"line one\nline two\n".repeat(1000);
        let r = ThreadedRead::spawn(Box::new(Flaky {
            data: data.clone(),
            at: 0,
            fail_at_end: true,
        }))
        .unwrap();
        let mut lines = 0;
        let mut err = None;
        for l in r.lines() {
            match l {
                Ok(_) => lines += 1,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        assert_eq!(lines, 2000);
        assert_eq!(err.unwrap().kind(), io::ErrorKind::UnexpectedEof);
    }
}
