//! The process-wide handle table. A handle is a small integer that names an
//! open descriptor (packet socket, TAP device or waker) and, for rings, their
//! geometry and mappings. It is shared by every thread (main and workers), so
//! the supervisor can open a socket or wake a worker blocked in `poll`.
//! Resources follow the thread that created them: when a worker's
//! environment is torn down, the handles it opened are closed and the rings
//! it mapped into its memory are unmapped.

use crate::napi::napi_ref;
use crate::sys;
use std::collections::BTreeMap;
use std::ffi::{c_int, c_void};
use std::sync::{Mutex, MutexGuard};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Rx,
    Tx,
    Tap,
    Waker,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Rx => "rx",
            Kind::Tx => "tx",
            Kind::Tap => "tap",
            Kind::Waker => "waker",
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Geometry {
    pub version: u32,
    pub size: usize,
    pub block_size: u32,
    pub block_count: u32,
    pub frame_size: u32,
    pub frame_count: u32,
    pub block_timeout_ms: u32,
}

/// A ring mapped with MAP_FIXED into (Wasm) memory owned by a JS environment.
pub struct FixedMap {
    pub addr: usize,
    pub size: usize,
    pub env: usize,
    /// Strong reference to the ArrayBuffer, so the memory outlives the mapping.
    pub buffer_ref: napi_ref,
}

pub struct Entry {
    pub fd: c_int,
    pub kind: Kind,
    pub ifname: String,
    pub geometry: Geometry,
    pub vnet_hdr: bool,
    pub qdisc_bypass: bool,
    pub owner_env: usize,
    pub fixed: Option<FixedMap>,
    /// Last socket error (SO_ERROR) seen by `poll`, reported once by `stats`.
    pub pending_error: i32,
}

// napi_ref is a raw pointer; it is only dereferenced on its own env's thread.
unsafe impl Send for Entry {}

pub struct Table {
    next: u32,
    pub entries: BTreeMap<u32, Entry>,
}

static TABLE: Mutex<Table> = Mutex::new(Table { next: 1, entries: BTreeMap::new() });

pub fn lock() -> MutexGuard<'static, Table> {
    TABLE.lock().unwrap_or_else(|p| p.into_inner())
}

impl Table {
    pub fn insert(&mut self, e: Entry) -> u32 {
        let id = self.next;
        self.next = self.next.wrapping_add(1).max(1);
        self.entries.insert(id, e);
        id
    }
}

/// Puts fresh anonymous private pages (what V8 had there) back over a ring
/// that was mapped into Wasm memory, so the memory stays valid after close.
pub fn restore_anonymous(m: &FixedMap) {
    unsafe {
        sys::mmap(
            m.addr as *mut c_void,
            m.size,
            sys::PROT_READ | sys::PROT_WRITE,
            sys::MAP_PRIVATE | sys::MAP_ANONYMOUS | sys::MAP_FIXED,
            -1,
            0,
        );
    }
}

/// Environment teardown (a worker exits or the main thread ends): unmap what
/// this env mapped, close what it opened.
pub unsafe extern "C" fn env_cleanup(arg: *mut c_void) {
    let env = arg as usize;
    let mut t = lock();
    for e in t.entries.values_mut() {
        if e.fixed.as_ref().map(|m| m.env == env).unwrap_or(false) {
            // The reference dies with the env; only the pages are put back.
            restore_anonymous(e.fixed.as_ref().unwrap());
            e.fixed = None;
        }
    }
    let mine: Vec<u32> = t.entries.iter().filter(|(_, e)| e.owner_env == env).map(|(k, _)| *k).collect();
    for id in mine {
        if let Some(e) = t.entries.remove(&id) {
            if let Some(m) = &e.fixed {
                restore_anonymous(m); // mapped by another env: its ref is left to that env's teardown
            }
            sys::close(e.fd);
        }
    }
}
