//! Readiness on the calling thread's own event loop: a libuv poll handle
//! (`uv_poll_t`) per watched handle, calling one JS function with the handle
//! id whenever it is readable. No thread in between: `pollAsync` waits on a
//! poll thread and hands over through a thread-safe function, two wake-ups
//! per event where this takes one. libuv's symbols come from the Node
//! binary, as Node-API's do. The descriptor is duplicated, so closing the
//! handle first does not leave a closed fd in the loop's epoll set.

use crate::napi::{self, arg, napi_env, napi_value, Env, JsError, JsResult};
use crate::ring::{handle_arg, unknown_handle};
use crate::sys;
use crate::table;
use std::collections::BTreeMap;
use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::Mutex;

type NapiScope = *mut c_void;
type NapiAsyncContext = *mut c_void;

const UV_POLL: c_int = 8;
const UV_READABLE: c_int = 1;

extern "C" {
    fn napi_get_uv_event_loop(env: napi_env, l: *mut *mut c_void) -> napi::napi_status;
    fn napi_open_handle_scope(env: napi_env, s: *mut NapiScope) -> napi::napi_status;
    fn napi_close_handle_scope(env: napi_env, s: NapiScope) -> napi::napi_status;
    fn napi_async_init(env: napi_env, resource: napi_value, name: napi_value, out: *mut NapiAsyncContext) -> napi::napi_status;
    fn napi_async_destroy(env: napi_env, ctx: NapiAsyncContext) -> napi::napi_status;
    fn napi_make_callback(env: napi_env, ctx: NapiAsyncContext, recv: napi_value, func: napi_value, argc: usize, argv: *const napi_value, result: *mut napi_value) -> napi::napi_status;
    fn napi_get_reference_value(env: napi_env, r: napi::napi_ref, out: *mut napi_value) -> napi::napi_status;
    fn napi_get_global(env: napi_env, out: *mut napi_value) -> napi::napi_status;
    fn napi_get_and_clear_last_exception(env: napi_env, out: *mut napi_value) -> napi::napi_status;
    fn napi_fatal_exception(env: napi_env, err: napi_value) -> napi::napi_status;
    fn uv_handle_size(t: c_int) -> usize;
    fn uv_poll_init(l: *mut c_void, h: *mut c_void, fd: c_int) -> c_int;
    fn uv_poll_start(h: *mut c_void, events: c_int, cb: unsafe extern "C" fn(*mut c_void, c_int, c_int)) -> c_int;
    fn uv_poll_stop(h: *mut c_void) -> c_int;
    fn uv_close(h: *mut c_void, cb: unsafe extern "C" fn(*mut c_void));
    fn napi_add_async_cleanup_hook(env: napi_env, hook: unsafe extern "C" fn(*mut c_void, *mut c_void), arg: *mut c_void, handle: *mut *mut c_void) -> napi::napi_status;
    fn napi_remove_async_cleanup_hook(handle: *mut c_void) -> napi::napi_status;
}

/// One watch: the uv handle's memory (its first field, `data`, points back here).
struct Watch {
    env: napi_env,
    id: u32,
    fd: c_int,
    func: napi::napi_ref,
    ctx: NapiAsyncContext,
    /** The uv_poll_t, as u64s so it is pointer-aligned. */
    handle: Vec<u64>,
    /** Closed by the environment's teardown: its JS references die with it; count down `Teardown`. */
    teardown: *mut Teardown,
}

/// An environment going away with watches still open (a worker that threw):
/// libuv must close their handles before the loop ends, so teardown waits
/// (an async cleanup hook) until the last one is closed.
struct Teardown {
    env: napi_env,
    pending: usize,
    hook: *mut c_void,
}

struct Registry {
    next: u32,
    /// Watch id → the boxed watch (as usize: raw pointers are not Send).
    live: BTreeMap<u32, usize>,
}

static WATCHES: Mutex<Registry> = Mutex::new(Registry { next: 1, live: BTreeMap::new() });

unsafe extern "C" fn on_readable(h: *mut c_void, _status: c_int, _events: c_int) {
    let w = &*(*(h as *mut *mut Watch));
    let mut scope = ptr::null_mut();
    if napi_open_handle_scope(w.env, &mut scope) != napi::NAPI_OK {
        return;
    }
    let mut func = ptr::null_mut();
    let mut recv = ptr::null_mut();
    let mut idv = ptr::null_mut();
    let mut out = ptr::null_mut();
    if napi_get_reference_value(w.env, w.func, &mut func) == napi::NAPI_OK
        && napi_get_global(w.env, &mut recv) == napi::NAPI_OK // make_callback wants an object receiver
        && napi::napi_create_double(w.env, w.id as f64, &mut idv) == napi::NAPI_OK
    {
        // make_callback runs the microtasks the callback queued, as a libuv callback must.
        if napi_make_callback(w.env, w.ctx, recv, func, 1, &idv, &mut out) == napi::NAPI_PENDING_EXCEPTION {
            // Nobody up the stack to catch it: an uncaught exception, as for any async callback.
            let mut err = ptr::null_mut();
            if napi_get_and_clear_last_exception(w.env, &mut err) == napi::NAPI_OK {
                napi_fatal_exception(w.env, err);
            }
        }
    }
    napi_close_handle_scope(w.env, scope);
}

unsafe extern "C" fn on_closed(h: *mut c_void) {
    let w = Box::from_raw(*(h as *mut *mut Watch));
    sys::close(w.fd);
    if w.teardown.is_null() {
        napi::napi_delete_reference(w.env, w.func);
        napi_async_destroy(w.env, w.ctx);
    } else {
        let t = &mut *w.teardown;
        t.pending -= 1;
        if t.pending == 0 {
            let t = Box::from_raw(w.teardown);
            napi_remove_async_cleanup_hook(t.hook);
        }
    }
    drop(w);
}

/// Registers the teardown hook of an environment (once, when the addon loads in it).
pub fn on_env_teardown(env: napi_env) {
    let t = Box::into_raw(Box::new(Teardown { env, pending: 0, hook: ptr::null_mut() }));
    unsafe {
        if napi_add_async_cleanup_hook(env, close_all, t as *mut c_void, &mut (*t).hook) != napi::NAPI_OK {
            drop(Box::from_raw(t));
        }
    }
}

unsafe extern "C" fn close_all(hook: *mut c_void, arg: *mut c_void) {
    let t = arg as *mut Teardown;
    (*t).hook = hook;
    let mut reg = WATCHES.lock().unwrap_or_else(|e| e.into_inner());
    let mine: Vec<u32> = reg.live.iter().filter(|(_, p)| (*(**p as *mut Watch)).env == (*t).env).map(|(k, _)| *k).collect();
    let raws: Vec<usize> = mine.iter().filter_map(|k| reg.live.remove(k)).collect();
    drop(reg);
    (*t).pending = raws.len();
    if raws.is_empty() {
        drop(Box::from_raw(t));
        napi_remove_async_cleanup_hook(hook);
        return;
    }
    for p in raws {
        let w = p as *mut Watch;
        (*w).teardown = t;
        let hp = (*w).handle.as_mut_ptr() as *mut c_void;
        uv_poll_stop(hp);
        uv_close(hp, on_closed);
    }
}

/// `watch(handle, callback)` → watch id: callback(handle) runs on this
/// thread's loop while the handle is readable (level-triggered).
pub fn js_watch(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let id = handle_arg(env, a, 0)?;
    let func = arg(a, 1, "callback")?;
    if env.type_of(func)? != 7 {
        return Err(JsError::arg("watch: callback must be a function"));
    }
    let fd = {
        let t = table::lock();
        t.entries.get(&id).map(|e| e.fd).ok_or_else(|| unknown_handle(id))?
    };
    let dup = unsafe { sys::dup(fd) };
    if dup < 0 {
        return Err(sys::last_error("dup", &format!("of handle {id} for watch")));
    }
    unsafe {
        let mut lp = ptr::null_mut();
        let mut r = ptr::null_mut();
        let mut ctx = ptr::null_mut();
        let name = env.string("weir.watch")?;
        if napi_get_uv_event_loop(env.0, &mut lp) != napi::NAPI_OK
            || napi::napi_create_reference(env.0, func, 1, &mut r) != napi::NAPI_OK
            || napi_async_init(env.0, ptr::null_mut(), name, &mut ctx) != napi::NAPI_OK
        {
            sys::close(dup);
            return Err(JsError::arg("watch: a Node-API call failed"));
        }
        let mut w = Box::new(Watch { env: env.0, id, fd: dup, func: r, ctx, handle: vec![0u64; uv_handle_size(UV_POLL).div_ceil(8)], teardown: ptr::null_mut() });
        let hp = w.handle.as_mut_ptr() as *mut c_void;
        let rc = uv_poll_init(lp, hp, dup);
        if rc != 0 {
            sys::close(dup);
            napi::napi_delete_reference(env.0, r);
            napi_async_destroy(env.0, ctx);
            return Err(JsError::arg(format!("watch: uv_poll_init on handle {id} failed ({rc})")));
        }
        let raw = Box::into_raw(w);
        *(hp as *mut *mut Watch) = raw; // uv_handle_t.data
        let rc = uv_poll_start(hp, UV_READABLE, on_readable);
        let mut reg = WATCHES.lock().unwrap_or_else(|e| e.into_inner());
        let wid = reg.next;
        reg.next = reg.next.wrapping_add(1).max(1);
        reg.live.insert(wid, raw as usize);
        drop(reg);
        if rc != 0 {
            unwatch(wid);
            return Err(JsError::arg(format!("watch: uv_poll_start on handle {id} failed ({rc})")));
        }
        env.number(wid as f64)
    }
}

fn unwatch(wid: u32) -> bool {
    let raw = WATCHES.lock().unwrap_or_else(|e| e.into_inner()).live.remove(&wid);
    match raw {
        Some(p) => unsafe {
            let w = p as *mut Watch;
            let hp = (*w).handle.as_mut_ptr() as *mut c_void;
            uv_poll_stop(hp);
            uv_close(hp, on_closed); // frees the watch once libuv is done with the handle
            true
        },
        None => false,
    }
}

/// `unwatch(watchId)`: stops and releases a watch; false if there is none.
pub fn js_unwatch(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let wid = env.to_uint(arg(a, 0, "watch id")?, "watch id", u32::MAX as u64)? as u32;
    env.boolean(unwatch(wid))
}
