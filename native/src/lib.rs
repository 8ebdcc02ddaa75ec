//! Weir's packet I/O addon: AF_PACKET sockets with RX rings (TPACKET_V2 or
//! V3) and TPACKET_V2 TX rings mapped into the data plane's Wasm memory,
//! socket filters (and fanout groups, which `weir run` does not use), watches
//! on the calling thread's event loop, poll, TX kicks, statistics, link
//! lookups and TAP devices. Sockets, rings and memory mapping only: the
//! frames themselves are the data plane's.
//! Written against Node-API (declared by hand in `napi.rs`) and libc
//! (`sys.rs`) with std only.

mod link;
mod napi;
mod poll;
mod ring;
mod sys;
mod table;
mod tap;
mod watch;

use napi::{napi_callback_info, napi_env, napi_value, Env, JsResult};
use std::ffi::c_void;

macro_rules! exports {
    ($($js:literal => $f:path),* $(,)?) => {
        unsafe fn define_all(env: napi_env, exports: napi_value) {
            $(
                {
                    unsafe extern "C" fn tramp(env: napi_env, info: napi_callback_info) -> napi_value {
                        napi::run(env, info, $f as fn(Env, &[napi_value]) -> JsResult<napi_value>)
                    }
                    let mut f = std::ptr::null_mut();
                    napi::napi_create_function(env, concat!($js, "\0").as_ptr() as *const _, $js.len(), tramp, std::ptr::null_mut(), &mut f);
                    napi::napi_set_named_property(env, exports, concat!($js, "\0").as_ptr() as *const _, f);
                }
            )*
        }
    };
}

exports! {
    "linkInfo" => link::js_link_info,
    "openRx" => ring::js_open_rx,
    "openTx" => ring::js_open_tx,
    "ringInfo" => ring::js_ring_info,
    "mapInto" => ring::js_map_into,
    "mapSeparate" => ring::js_map_separate,
    "kickTx" => ring::js_kick_tx,
    "stats" => ring::js_stats,
    "setFilter" => ring::js_set_filter,
    "close" => ring::js_close,
    "poll" => poll::js_poll,
    "pollAsync" => poll::js_poll_async,
    "wakerOpen" => poll::js_waker_open,
    "wake" => poll::js_wake,
    "tapOpen" => tap::js_tap_open,
    "tapRead" => tap::js_tap_read,
    "tapWrite" => tap::js_tap_write,
    "watch" => watch::js_watch,
    "unwatch" => watch::js_unwatch,
}

/// Node calls this once per environment (the main thread and each worker).
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    define_all(env, exports);
    napi::napi_add_env_cleanup_hook(env, table::env_cleanup, env as *mut c_void);
    watch::on_env_teardown(env);
    exports
}

/// The Node-API version this addon is written for.
#[no_mangle]
pub extern "C" fn node_api_module_get_api_version_v1() -> i32 {
    8
}
