//! Waiting for traffic without spinning: `poll(2)` over handles, a blocking
//! form (for worker threads) and a Promise form that polls on a thread of its
//! own and resolves through a thread-safe function; plus wakers (eventfd) so
//! another thread can end a worker's wait at once.

use crate::napi::{self, arg, napi_env, napi_value, Env, JsError, JsResult};
use crate::ring::{handle_arg, take_socket_error, unknown_handle};
use crate::sys::{self, Fd};
use crate::table::{self, Entry, Geometry, Kind};
use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Condvar, Mutex};

struct Target {
    id: u32,
    fd: c_int,
    kind: Kind,
}

fn targets(env: Env, list: napi_value) -> JsResult<Vec<Target>> {
    let items = env.array_items(list, "poll handles")?;
    if items.len() > 4096 {
        return Err(JsError::arg("poll: at most 4096 handles"));
    }
    let ids: Vec<u32> = items
        .iter()
        .map(|v| env.to_uint(*v, "poll handle", u32::MAX as u64).map(|n| n as u32))
        .collect::<JsResult<_>>()?;
    let t = table::lock();
    ids.iter()
        .map(|id| t.entries.get(id).map(|e| Target { id: *id, fd: e.fd, kind: e.kind }).ok_or_else(|| unknown_handle(*id)))
        .collect()
}

fn timeout_arg(env: Env, a: &[napi_value]) -> JsResult<c_int> {
    let ms = env.to_f64(arg(a, 1, "timeoutMs")?, "poll timeoutMs")?;
    if ms.is_nan() {
        return Err(JsError::arg("poll timeoutMs must be a number (negative waits without limit)"));
    }
    Ok(if ms < 0.0 { -1 } else { ms.min(i32::MAX as f64).ceil() as c_int })
}

fn drain_waker(fd: c_int) {
    let mut v = 0u64;
    unsafe { sys::read(fd, &mut v as *mut u64 as *mut c_void, 8) };
}

/// Polls `ts`; returns the ids that are readable or report an error. A
/// socket error is cleared here and kept for `stats`; a waker is drained.
fn do_poll(ts: &[Target], timeout: c_int) -> Result<Vec<u32>, i32> {
    let mut pfds: Vec<sys::pollfd> = ts.iter().map(|t| sys::pollfd { fd: t.fd, events: sys::POLLIN, revents: 0 }).collect();
    let n = unsafe { sys::poll(pfds.as_mut_ptr(), pfds.len() as _, timeout) };
    if n < 0 {
        let e = sys::errno();
        return if e == sys::EINTR { Ok(Vec::new()) } else { Err(e) };
    }
    let mut ready = Vec::new();
    for (t, p) in ts.iter().zip(pfds.iter()) {
        if p.revents == 0 {
            continue;
        }
        if p.revents & sys::POLLERR != 0 {
            take_socket_error(t.id);
        }
        if t.kind == Kind::Waker && p.revents & sys::POLLIN != 0 {
            drain_waker(t.fd);
        }
        ready.push(t.id);
    }
    Ok(ready)
}

fn id_array(env: Env, ids: &[u32]) -> JsResult<napi_value> {
    let arr = env.array(ids.len())?;
    for (i, id) in ids.iter().enumerate() {
        env.set_element(arr, i as u32, env.number(*id as f64)?)?;
    }
    Ok(arr)
}

/// `poll(handles, timeoutMs)` → the handles that are ready (blocks the thread).
pub fn js_poll(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let ts = targets(env, arg(a, 0, "handles")?)?;
    let timeout = timeout_arg(env, a)?;
    let ready = do_poll(&ts, timeout).map_err(|e| sys::sys_error("poll", &format!("on {} handles", ts.len()), e))?;
    id_array(env, &ready)
}

struct AsyncPoll {
    targets: Vec<Target>, // fds are dups owned by this struct
    timeout: c_int,
    result: Result<Vec<u32>, i32>,
    deferred: napi::napi_deferred,
    /// Set when the wait runs on the environment's persistent poll thread.
    pool: Option<Arc<Pool>>,
}
unsafe impl Send for AsyncPoll {}

/// One persistent poll thread per environment, started on the first
/// `pollAsync` and blocked on a condition variable between waits (no CPU
/// while idle): a wait costs no thread start and no thread-safe function
/// creation, only the hop into the event loop through one long-lived,
/// unreferenced (ref'd only while a wait is pending) thread-safe function.
/// A `pollAsync` issued while it is busy gets a thread of its own as before.
struct Pool {
    env: usize,
    tsfn: AtomicPtr<napi::napi_threadsafe_function__>,
    state: Mutex<PoolState>,
    cv: Condvar,
}
unsafe impl Send for Pool {}
unsafe impl Sync for Pool {}

struct PoolState {
    job: Option<Box<AsyncPoll>>,
    /// A wait was handed over and not yet delivered (main thread's view).
    busy: bool,
    /// The thread-safe function is gone (environment teardown): never call it.
    dead: bool,
}

static POOLS: Mutex<Vec<Arc<Pool>>> = Mutex::new(Vec::new());

fn pool_thread(pool: Arc<Pool>) {
    loop {
        let mut job = {
            let mut g = pool.state.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if g.dead {
                    return;
                }
                if let Some(j) = g.job.take() {
                    break j;
                }
                g = pool.cv.wait(g).unwrap_or_else(|e| e.into_inner());
            }
        };
        job.result = do_poll(&job.targets, job.timeout);
        // Held across the call so a concurrent teardown (thread_finalize,
        // which takes this lock) cannot free the function under us.
        let g = pool.state.lock().unwrap_or_else(|e| e.into_inner());
        if g.dead {
            return; // job dropped: its descriptors are closed
        }
        let raw = Box::into_raw(job);
        if unsafe { napi::napi_call_threadsafe_function(pool.tsfn.load(Ordering::Acquire), raw as *mut c_void, napi::NAPI_TSFN_NONBLOCKING) } != napi::NAPI_OK {
            drop(unsafe { Box::from_raw(raw) });
        }
        drop(g);
    }
}

unsafe extern "C" fn pool_finalize(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    let pool = Arc::from_raw(data as *const Pool);
    pool.state.lock().unwrap_or_else(|e| e.into_inner()).dead = true;
    pool.cv.notify_all();
    POOLS.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| !Arc::ptr_eq(p, &pool));
}

/// The environment's pool, started on first use; None if it cannot be.
fn pool_for(env: Env) -> Option<Arc<Pool>> {
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = pools.iter().find(|p| p.env == env.0 as usize) {
        return Some(p.clone());
    }
    let name = env.string("weir.pollAsync.pool").ok()?;
    let mut tsfn = ptr::null_mut();
    let cell = Arc::new(Pool { env: env.0 as usize, tsfn: AtomicPtr::new(ptr::null_mut()), state: Mutex::new(PoolState { job: None, busy: false, dead: false }), cv: Condvar::new() });
    let fin = Arc::into_raw(cell.clone()) as *mut c_void;
    let st = unsafe {
        napi::napi_create_threadsafe_function(env.0, ptr::null_mut(), ptr::null_mut(), name, 0, 1, fin, Some(pool_finalize), ptr::null_mut(), Some(async_done), &mut tsfn)
    };
    if st != napi::NAPI_OK {
        unsafe { drop(Arc::from_raw(fin as *const Pool)) };
        return None;
    }
    // Known only now (the finalize data had to exist first); set before the thread starts.
    cell.tsfn.store(tsfn, Ordering::Release);
    unsafe { napi::napi_unref_threadsafe_function(env.0, tsfn) };
    let t = cell.clone();
    if std::thread::Builder::new().name("weir-poll".into()).spawn(move || pool_thread(t)).is_err() {
        cell.state.lock().unwrap_or_else(|e| e.into_inner()).dead = true;
        unsafe { napi::napi_release_threadsafe_function(tsfn, napi::NAPI_TSFN_RELEASE) };
        return None;
    }
    pools.push(cell.clone());
    Some(cell)
}

struct SendPtr(*mut AsyncPoll, napi::napi_threadsafe_function);
unsafe impl Send for SendPtr {}

unsafe extern "C" fn async_done(env: napi_env, _cb: napi_value, _ctx: *mut c_void, data: *mut c_void) {
    let job = Box::from_raw(data as *mut AsyncPoll);
    if env.is_null() {
        return; // the environment is going away
    }
    if let Some(p) = &job.pool {
        p.state.lock().unwrap_or_else(|e| e.into_inner()).busy = false;
        napi::napi_unref_threadsafe_function(env, p.tsfn.load(Ordering::Acquire));
    }
    let e = Env(env);
    match &job.result {
        Ok(ids) => match id_array(e, ids) {
            Ok(arr) => {
                napi::napi_resolve_deferred(env, job.deferred, arr);
            }
            Err(err) => {
                napi::napi_reject_deferred(env, job.deferred, e.error_value(&err));
            }
        },
        Err(n) => {
            let err = sys::sys_error("poll", &format!("on {} handles (pollAsync)", job.targets.len()), *n);
            napi::napi_reject_deferred(env, job.deferred, e.error_value(&err));
        }
    }
}

impl Drop for AsyncPoll {
    fn drop(&mut self) {
        for t in &self.targets {
            unsafe { sys::close(t.fd) };
        }
    }
}

/// `pollAsync(handles, timeoutMs)` → Promise of the ready handles. The wait
/// runs on a thread of its own (not libuv's pool) over duplicated descriptors,
/// so closing a handle meanwhile is safe (the wait then ends at its timeout).
pub fn js_poll_async(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let ts = targets(env, arg(a, 0, "handles")?)?;
    let timeout = timeout_arg(env, a)?;
    let mut dups = Vec::with_capacity(ts.len());
    for t in &ts {
        let d = unsafe { sys::dup(t.fd) };
        if d < 0 {
            let err = sys::last_error("dup", &format!("of handle {} for pollAsync", t.id));
            for x in &dups {
                let x: &Target = x;
                unsafe { sys::close(x.fd) };
            }
            return Err(err);
        }
        dups.push(Target { id: t.id, fd: d, kind: t.kind });
    }
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    let job = Box::new(AsyncPoll { targets: dups, timeout, result: Ok(Vec::new()), deferred: ptr::null_mut(), pool: None });
    if unsafe { napi::napi_create_promise(env.0, &mut deferred, &mut promise) } != napi::NAPI_OK {
        return Err(JsError::pending());
    }
    let mut job = job;
    job.deferred = deferred;
    if let Some(pool) = pool_for(env) {
        let mut g = pool.state.lock().unwrap_or_else(|e| e.into_inner());
        if !g.busy && !g.dead {
            g.busy = true;
            unsafe { napi::napi_ref_threadsafe_function(env.0, pool.tsfn.load(Ordering::Acquire)) };
            job.pool = Some(pool.clone());
            g.job = Some(job);
            drop(g);
            pool.cv.notify_one();
            return Ok(promise);
        }
    }
    let name = env.string("weir.pollAsync")?;
    let mut tsfn = ptr::null_mut();
    let st = unsafe {
        napi::napi_create_threadsafe_function(env.0, ptr::null_mut(), ptr::null_mut(), name, 0, 1, ptr::null_mut(), None, ptr::null_mut(), Some(async_done), &mut tsfn)
    };
    if st != napi::NAPI_OK {
        return Err(JsError { code: "WEIR_ERR_NAPI".into(), message: format!("pollAsync: napi_create_threadsafe_function failed (status {st})"), errno: None, syscall: None });
    }
    let p = SendPtr(Box::into_raw(job), tsfn);
    let spawned = std::thread::Builder::new().name("weir-poll".into()).spawn(move || {
        let p = p;
        let job = unsafe { &mut *p.0 };
        job.result = do_poll(&job.targets, job.timeout);
        unsafe {
            if napi::napi_call_threadsafe_function(p.1, p.0 as *mut c_void, napi::NAPI_TSFN_BLOCKING) != napi::NAPI_OK {
                drop(Box::from_raw(p.0));
            }
            napi::napi_release_threadsafe_function(p.1, napi::NAPI_TSFN_RELEASE);
        }
    });
    if let Err(e) = spawned {
        return Err(JsError { code: "WEIR_ERR_THREAD".into(), message: format!("pollAsync: cannot start a thread: {e}"), errno: None, syscall: None });
    }
    Ok(promise)
}

/// `wakerOpen()` → handle of an eventfd that `poll` reports (and drains)
/// once `wake(handle)` is called from any thread.
pub fn js_waker_open(env: Env, _a: &[napi_value]) -> JsResult<napi_value> {
    let fd = unsafe { sys::eventfd(0, sys::EFD_NONBLOCK | sys::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(sys::last_error("eventfd", "for a poll waker"));
    }
    let fd = Fd(fd);
    let id = table::lock().insert(Entry {
        fd: fd.release(),
        kind: Kind::Waker,
        ifname: String::new(),
        geometry: Geometry::default(),
        vnet_hdr: false,
        qdisc_bypass: false,
        owner_env: env.0 as usize,
        fixed: None,
        pending_error: 0,
    });
    env.number(id as f64)
}

/// `wake(handle)`: makes the waker readable.
pub fn js_wake(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let id = handle_arg(env, a, 0)?;
    let t = table::lock();
    let e = t.entries.get(&id).ok_or_else(|| unknown_handle(id))?;
    if e.kind != Kind::Waker {
        return Err(JsError::arg(format!("wake: handle {id} is a {} handle, not a waker", e.kind.name())));
    }
    let one = 1u64;
    if unsafe { sys::write(e.fd, &one as *const u64 as *const c_void, 8) } < 0 && sys::errno() != sys::EAGAIN {
        return Err(sys::last_error("write", &format!("to waker {id}")));
    }
    Ok(env.undefined())
}
