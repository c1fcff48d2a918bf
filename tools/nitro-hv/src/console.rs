//! An instance's console: the last 64 KiB (`NITRO_CONSOLE_MAX`) of what its
//! processes write to stdout and stderr.
//!
//! Both are one pipe from the jail. A thread per instance only reads that
//! pipe and appends to the instance's ring under a mutex, so the command
//! loop never blocks on it and the instance never blocks on a full pipe
//! while the daemon waits for the controller. The thread ends when every
//! writer is gone (the instance's processes and the jail): it then marks the
//! console closed, so that a stop can wait for the last bytes before it
//! reports.

use crate::{abi, sys};
use std::{
    collections::VecDeque,
    fs::File,
    io::{self, Read},
    os::fd::OwnedFd,
    sync::{Arc, Condvar, Mutex, MutexGuard},
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// How much output an instance's console keeps.
pub const CAPACITY: usize = abi::NITRO_CONSOLE_MAX as usize;

/// The last `cap` bytes written to it.
#[derive(Debug)]
pub struct Ring {
    cap: usize,
    bytes: VecDeque<u8>,
}

impl Ring {
    /// An empty ring that keeps the last `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Ring {
            cap,
            bytes: VecDeque::new(),
        }
    }

    /// Appends `data`, dropping the oldest bytes beyond the capacity.
    pub fn push(&mut self, data: &[u8]) {
        let data = &data[data.len().saturating_sub(self.cap)..];
        let excess = (self.bytes.len() + data.len()).saturating_sub(self.cap);
        self.bytes.drain(..excess);
        self.bytes.extend(data);
    }

    /// What it holds, oldest first.
    pub fn contents(&self) -> Vec<u8> {
        self.bytes.iter().copied().collect()
    }
}

/// The ring and whether its pipe has ended.
#[derive(Debug)]
struct State {
    ring: Ring,
    closed: bool,
}

/// One instance's console, shared by its reader thread and the daemon.
#[derive(Debug)]
pub struct Console {
    state: Mutex<State>,
    ended: Condvar,
}

impl Console {
    /// An empty console (of [`CAPACITY`]).
    pub fn new() -> Arc<Self> {
        Arc::new(Console {
            state: Mutex::new(State {
                ring: Ring::new(CAPACITY),
                closed: false,
            }),
            ended: Condvar::new(),
        })
    }

    /// The state; a reader that panicked holding the lock left a ring that
    /// is still well formed, so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the console holds now, oldest first.
    pub fn snapshot(&self) -> Vec<u8> {
        self.lock().ring.contents()
    }

    /// Appends output.
    fn append(&self, data: &[u8]) {
        self.lock().ring.push(data);
    }

    /// Marks the pipe ended and wakes whoever waits for it.
    fn close(&self) {
        self.lock().closed = true;
        self.ended.notify_all();
    }

    /// Waits until the pipe has ended (every writer gone), at most
    /// `timeout`; gives whether it has.
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while !state.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .ended
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Starts the thread that feeds the console from `pipe` (the read end
    /// of the instance's output) until it ends.
    pub fn feed(self: &Arc<Self>, pipe: OwnedFd, name: &str) -> io::Result<JoinHandle<()>> {
        let console = Arc::clone(self);
        sys::spawn_quiet(&format!("console {name}"), move || {
            let mut pipe = File::from(pipe);
            let mut buf = [0u8; 4096];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => console.append(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
            console.close();
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn ring_keeps_the_last_bytes() {
        let mut r = Ring::new(8);
        assert!(r.contents().is_empty());
        r.push(b"abc");
        r.push(b"def");
        assert_eq!(r.contents(), b"abcdef");
        r.push(b"ghij");
        assert_eq!(r.contents(), b"cdefghij");
        r.push(b"0123456789");
        assert_eq!(r.contents(), b"23456789", "a write longer than the ring");
        r.push(b"");
        assert_eq!(r.contents(), b"23456789");
    }

    #[test]
    fn ring_of_the_console_size() {
        let mut r = Ring::new(CAPACITY);
        let chunk: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for _ in 0..100 {
            r.push(&chunk);
        }
        let all: Vec<u8> = chunk.iter().copied().cycle().take(100_000).collect();
        assert_eq!(r.contents(), all[100_000 - CAPACITY..]);
    }

    #[test]
    fn console_reads_its_pipe_to_the_end() {
        let console = Console::new();
        let (r, w) = sys::pipe().unwrap();
        let reader = console.feed(r, "test").unwrap();
        let mut w = File::from(w);
        w.write_all(b"booted\n").unwrap();
        w.write_all(b"hello\n").unwrap();
        assert!(!console.wait_closed(Duration::from_millis(20)));
        drop(w);
        assert!(console.wait_closed(Duration::from_secs(10)));
        reader.join().unwrap();
        assert_eq!(console.snapshot(), b"booted\nhello\n");
    }
}
