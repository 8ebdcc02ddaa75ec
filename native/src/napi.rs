//! The few Node-API declarations the addon uses, written by hand from Node's
//! `js_native_api.h` / `node_api.h` (N-API version 8, Node >= 20). Node exports
//! these symbols; a cdylib on Linux leaves them undefined and the dynamic
//! loader binds them when Node `dlopen`s the `.node` file.
#![allow(non_camel_case_types, dead_code)]

use std::ffi::{c_char, c_void, CString};
use std::ptr;

#[repr(C)]
pub struct napi_env__ {
    _p: [u8; 0],
}
#[repr(C)]
pub struct napi_value__ {
    _p: [u8; 0],
}
#[repr(C)]
pub struct napi_callback_info__ {
    _p: [u8; 0],
}
#[repr(C)]
pub struct napi_ref__ {
    _p: [u8; 0],
}
#[repr(C)]
pub struct napi_deferred__ {
    _p: [u8; 0],
}
#[repr(C)]
pub struct napi_threadsafe_function__ {
    _p: [u8; 0],
}

pub type napi_env = *mut napi_env__;
pub type napi_value = *mut napi_value__;
pub type napi_callback_info = *mut napi_callback_info__;
pub type napi_ref = *mut napi_ref__;
pub type napi_deferred = *mut napi_deferred__;
pub type napi_threadsafe_function = *mut napi_threadsafe_function__;
pub type napi_status = i32;

pub const NAPI_OK: napi_status = 0;
pub const NAPI_PENDING_EXCEPTION: napi_status = 10;

// napi_valuetype
pub const NAPI_UNDEFINED: i32 = 0;
pub const NAPI_NULL: i32 = 1;
pub const NAPI_BOOLEAN: i32 = 2;
pub const NAPI_NUMBER: i32 = 3;
pub const NAPI_STRING: i32 = 4;
pub const NAPI_OBJECT: i32 = 6;

// napi_typedarray_type
pub const NAPI_UINT8_ARRAY: i32 = 1;

// napi_threadsafe_function_release_mode / call_mode
pub const NAPI_TSFN_RELEASE: i32 = 0;
pub const NAPI_TSFN_BLOCKING: i32 = 1;
pub const NAPI_TSFN_NONBLOCKING: i32 = 0;

pub type napi_callback = unsafe extern "C" fn(napi_env, napi_callback_info) -> napi_value;
pub type napi_finalize = unsafe extern "C" fn(napi_env, *mut c_void, *mut c_void);
pub type napi_cleanup_hook = unsafe extern "C" fn(*mut c_void);
pub type napi_threadsafe_function_call_js =
    unsafe extern "C" fn(napi_env, napi_value, *mut c_void, *mut c_void);

extern "C" {
    pub fn napi_create_function(
        env: napi_env,
        name: *const c_char,
        len: usize,
        cb: napi_callback,
        data: *mut c_void,
        result: *mut napi_value,
    ) -> napi_status;
    pub fn napi_get_cb_info(
        env: napi_env,
        info: napi_callback_info,
        argc: *mut usize,
        argv: *mut napi_value,
        this_arg: *mut napi_value,
        data: *mut *mut c_void,
    ) -> napi_status;
    pub fn napi_get_undefined(env: napi_env, result: *mut napi_value) -> napi_status;
    pub fn napi_get_null(env: napi_env, result: *mut napi_value) -> napi_status;
    pub fn napi_get_boolean(env: napi_env, value: bool, result: *mut napi_value) -> napi_status;
    pub fn napi_typeof(env: napi_env, value: napi_value, result: *mut i32) -> napi_status;
    pub fn napi_get_value_double(env: napi_env, value: napi_value, result: *mut f64) -> napi_status;
    pub fn napi_get_value_bool(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;
    pub fn napi_get_value_string_utf8(
        env: napi_env,
        value: napi_value,
        buf: *mut c_char,
        bufsize: usize,
        result: *mut usize,
    ) -> napi_status;
    pub fn napi_create_double(env: napi_env, value: f64, result: *mut napi_value) -> napi_status;
    pub fn napi_create_string_utf8(
        env: napi_env,
        s: *const c_char,
        len: usize,
        result: *mut napi_value,
    ) -> napi_status;
    pub fn napi_create_object(env: napi_env, result: *mut napi_value) -> napi_status;
    pub fn napi_create_array_with_length(env: napi_env, len: usize, result: *mut napi_value) -> napi_status;
    pub fn napi_get_named_property(
        env: napi_env,
        object: napi_value,
        name: *const c_char,
        result: *mut napi_value,
    ) -> napi_status;
    pub fn napi_set_named_property(
        env: napi_env,
        object: napi_value,
        name: *const c_char,
        value: napi_value,
    ) -> napi_status;
    pub fn napi_is_array(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;
    pub fn napi_get_array_length(env: napi_env, value: napi_value, result: *mut u32) -> napi_status;
    pub fn napi_get_element(env: napi_env, object: napi_value, index: u32, result: *mut napi_value) -> napi_status;
    pub fn napi_set_element(env: napi_env, object: napi_value, index: u32, value: napi_value) -> napi_status;
    pub fn napi_is_typedarray(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;
    pub fn napi_get_typedarray_info(
        env: napi_env,
        typedarray: napi_value,
        kind: *mut i32,
        length: *mut usize,
        data: *mut *mut c_void,
        arraybuffer: *mut napi_value,
        byte_offset: *mut usize,
    ) -> napi_status;
    pub fn napi_create_external_arraybuffer(
        env: napi_env,
        data: *mut c_void,
        len: usize,
        finalize: Option<napi_finalize>,
        hint: *mut c_void,
        result: *mut napi_value,
    ) -> napi_status;
    pub fn napi_create_error(env: napi_env, code: napi_value, msg: napi_value, result: *mut napi_value) -> napi_status;
    pub fn napi_throw(env: napi_env, error: napi_value) -> napi_status;
    pub fn napi_is_exception_pending(env: napi_env, result: *mut bool) -> napi_status;
    pub fn napi_create_reference(env: napi_env, value: napi_value, refcount: u32, result: *mut napi_ref) -> napi_status;
    pub fn napi_delete_reference(env: napi_env, r: napi_ref) -> napi_status;
    pub fn napi_add_env_cleanup_hook(env: napi_env, hook: napi_cleanup_hook, arg: *mut c_void) -> napi_status;
    pub fn napi_create_promise(env: napi_env, deferred: *mut napi_deferred, promise: *mut napi_value) -> napi_status;
    pub fn napi_resolve_deferred(env: napi_env, deferred: napi_deferred, value: napi_value) -> napi_status;
    pub fn napi_reject_deferred(env: napi_env, deferred: napi_deferred, value: napi_value) -> napi_status;
    pub fn napi_create_threadsafe_function(
        env: napi_env,
        func: napi_value,
        async_resource: napi_value,
        async_resource_name: napi_value,
        max_queue_size: usize,
        initial_thread_count: usize,
        thread_finalize_data: *mut c_void,
        thread_finalize_cb: Option<napi_finalize>,
        context: *mut c_void,
        call_js_cb: Option<napi_threadsafe_function_call_js>,
        result: *mut napi_threadsafe_function,
    ) -> napi_status;
    pub fn napi_call_threadsafe_function(tsfn: napi_threadsafe_function, data: *mut c_void, mode: i32) -> napi_status;
    pub fn napi_release_threadsafe_function(tsfn: napi_threadsafe_function, mode: i32) -> napi_status;
    pub fn napi_ref_threadsafe_function(env: napi_env, tsfn: napi_threadsafe_function) -> napi_status;
    pub fn napi_unref_threadsafe_function(env: napi_env, tsfn: napi_threadsafe_function) -> napi_status;
}

/// An error raised by an exported function: becomes a JS `Error` with `code`
/// (errno name such as `ENODEV`, or a `WEIR_ERR_…` code for bad arguments),
/// and for system-call failures `errno` and `syscall`.
#[derive(Debug)]
pub struct JsError {
    pub code: String,
    pub message: String,
    pub errno: Option<i32>,
    pub syscall: Option<String>,
}

pub type JsResult<T> = Result<T, JsError>;

impl JsError {
    pub fn arg(message: impl Into<String>) -> JsError {
        JsError { code: "WEIR_ERR_INVALID_ARG".into(), message: message.into(), errno: None, syscall: None }
    }
    /// Marks that a JS exception is already pending (thrown by N-API itself).
    pub fn pending() -> JsError {
        JsError { code: String::new(), message: String::new(), errno: None, syscall: None }
    }
}

fn check(status: napi_status, what: &str) -> JsResult<()> {
    if status == NAPI_OK {
        Ok(())
    } else if status == NAPI_PENDING_EXCEPTION {
        Err(JsError::pending())
    } else {
        Err(JsError { code: "WEIR_ERR_NAPI".into(), message: format!("{what}: napi status {status}"), errno: None, syscall: None })
    }
}

fn cstr(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

/// Thin, checked wrappers over one `napi_env`.
#[derive(Clone, Copy)]
pub struct Env(pub napi_env);

impl Env {
    pub fn undefined(self) -> napi_value {
        let mut v = ptr::null_mut();
        unsafe { napi_get_undefined(self.0, &mut v) };
        v
    }
    pub fn null(self) -> napi_value {
        let mut v = ptr::null_mut();
        unsafe { napi_get_null(self.0, &mut v) };
        v
    }
    pub fn boolean(self, b: bool) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        check(unsafe { napi_get_boolean(self.0, b, &mut v) }, "napi_get_boolean")?;
        Ok(v)
    }
    pub fn number(self, n: f64) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        check(unsafe { napi_create_double(self.0, n, &mut v) }, "napi_create_double")?;
        Ok(v)
    }
    pub fn string(self, s: &str) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        check(unsafe { napi_create_string_utf8(self.0, s.as_ptr() as *const c_char, s.len(), &mut v) }, "napi_create_string_utf8")?;
        Ok(v)
    }
    pub fn object(self) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        check(unsafe { napi_create_object(self.0, &mut v) }, "napi_create_object")?;
        Ok(v)
    }
    pub fn array(self, len: usize) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        check(unsafe { napi_create_array_with_length(self.0, len, &mut v) }, "napi_create_array_with_length")?;
        Ok(v)
    }
    pub fn set(self, obj: napi_value, key: &str, value: napi_value) -> JsResult<()> {
        let k = cstr(key);
        check(unsafe { napi_set_named_property(self.0, obj, k.as_ptr(), value) }, "napi_set_named_property")
    }
    pub fn set_num(self, obj: napi_value, key: &str, n: f64) -> JsResult<()> {
        let v = self.number(n)?;
        self.set(obj, key, v)
    }
    pub fn set_element(self, arr: napi_value, i: u32, value: napi_value) -> JsResult<()> {
        check(unsafe { napi_set_element(self.0, arr, i, value) }, "napi_set_element")
    }
    pub fn get(self, obj: napi_value, key: &str) -> JsResult<napi_value> {
        let k = cstr(key);
        let mut v = ptr::null_mut();
        check(unsafe { napi_get_named_property(self.0, obj, k.as_ptr(), &mut v) }, "napi_get_named_property")?;
        Ok(v)
    }
    pub fn type_of(self, v: napi_value) -> JsResult<i32> {
        let mut t = 0;
        check(unsafe { napi_typeof(self.0, v, &mut t) }, "napi_typeof")?;
        Ok(t)
    }
    pub fn is_nullish(self, v: napi_value) -> JsResult<bool> {
        let t = self.type_of(v)?;
        Ok(t == NAPI_UNDEFINED || t == NAPI_NULL)
    }

    /// A JS string argument, at most `max` bytes.
    pub fn to_string(self, v: napi_value, what: &str) -> JsResult<String> {
        if self.type_of(v)? != NAPI_STRING {
            return Err(JsError::arg(format!("{what} must be a string")));
        }
        let mut len = 0usize;
        check(unsafe { napi_get_value_string_utf8(self.0, v, ptr::null_mut(), 0, &mut len) }, "napi_get_value_string_utf8")?;
        let mut buf = vec![0u8; len + 1];
        check(unsafe { napi_get_value_string_utf8(self.0, v, buf.as_mut_ptr() as *mut c_char, len + 1, &mut len) }, "napi_get_value_string_utf8")?;
        buf.truncate(len);
        String::from_utf8(buf).map_err(|_| JsError::arg(format!("{what} is not valid UTF-8")))
    }
    pub fn to_f64(self, v: napi_value, what: &str) -> JsResult<f64> {
        if self.type_of(v)? != NAPI_NUMBER {
            return Err(JsError::arg(format!("{what} must be a number")));
        }
        let mut n = 0.0;
        check(unsafe { napi_get_value_double(self.0, v, &mut n) }, "napi_get_value_double")?;
        Ok(n)
    }
    /// A non-negative integer argument no larger than `max`.
    pub fn to_uint(self, v: napi_value, what: &str, max: u64) -> JsResult<u64> {
        let n = self.to_f64(v, what)?;
        if !(n >= 0.0) || n.fract() != 0.0 || n > max as f64 {
            return Err(JsError::arg(format!("{what} must be an integer from 0 to {max} (got {n})")));
        }
        Ok(n as u64)
    }
    pub fn to_bool(self, v: napi_value, what: &str) -> JsResult<bool> {
        if self.type_of(v)? != NAPI_BOOLEAN {
            return Err(JsError::arg(format!("{what} must be a boolean")));
        }
        let mut b = false;
        check(unsafe { napi_get_value_bool(self.0, v, &mut b) }, "napi_get_value_bool")?;
        Ok(b)
    }
    /// Optional property of an options object: `None` when absent/undefined/null.
    pub fn opt(self, obj: Option<napi_value>, key: &str) -> JsResult<Option<napi_value>> {
        match obj {
            None => Ok(None),
            Some(o) => {
                let v = self.get(o, key)?;
                Ok(if self.is_nullish(v)? { None } else { Some(v) })
            }
        }
    }
    pub fn is_array(self, v: napi_value) -> JsResult<bool> {
        let mut b = false;
        check(unsafe { napi_is_array(self.0, v, &mut b) }, "napi_is_array")?;
        Ok(b)
    }
    pub fn array_items(self, v: napi_value, what: &str) -> JsResult<Vec<napi_value>> {
        if !self.is_array(v)? {
            return Err(JsError::arg(format!("{what} must be an array")));
        }
        let mut n = 0u32;
        check(unsafe { napi_get_array_length(self.0, v, &mut n) }, "napi_get_array_length")?;
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let mut e = ptr::null_mut();
            check(unsafe { napi_get_element(self.0, v, i, &mut e) }, "napi_get_element")?;
            out.push(e);
        }
        Ok(out)
    }
    /// A `Uint8Array` argument: (data pointer, byte length, its ArrayBuffer).
    /// The pointer already includes the view's byteOffset; it works for views
    /// over a SharedArrayBuffer too.
    pub fn uint8array(self, v: napi_value, what: &str) -> JsResult<(*mut u8, usize, napi_value)> {
        let mut is = false;
        check(unsafe { napi_is_typedarray(self.0, v, &mut is) }, "napi_is_typedarray")?;
        if !is {
            return Err(JsError::arg(format!("{what} must be a Uint8Array")));
        }
        let (mut kind, mut len, mut data, mut ab, mut off) = (0i32, 0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
        check(unsafe { napi_get_typedarray_info(self.0, v, &mut kind, &mut len, &mut data, &mut ab, &mut off) }, "napi_get_typedarray_info")?;
        if kind != NAPI_UINT8_ARRAY {
            return Err(JsError::arg(format!("{what} must be a Uint8Array")));
        }
        Ok((data as *mut u8, len, ab))
    }

    /// Builds the JS Error for `e`.
    pub fn error_value(self, e: &JsError) -> napi_value {
        unsafe {
            let code = self.string(&e.code).unwrap_or(ptr::null_mut());
            let msg = self.string(&e.message).unwrap_or(ptr::null_mut());
            let mut err = ptr::null_mut();
            napi_create_error(self.0, code, msg, &mut err);
            if !err.is_null() {
                if let Some(n) = e.errno {
                    if let Ok(v) = self.number(n as f64) {
                        let _ = self.set(err, "errno", v);
                    }
                }
                if let Some(s) = &e.syscall {
                    if let Ok(v) = self.string(s) {
                        let _ = self.set(err, "syscall", v);
                    }
                }
            }
            err
        }
    }

    pub fn throw(self, e: &JsError) {
        let mut pending = false;
        unsafe { napi_is_exception_pending(self.0, &mut pending) };
        if pending || e.code.is_empty() {
            return;
        }
        let err = self.error_value(e);
        unsafe { napi_throw(self.0, err) };
    }
}

/// The arguments of a call (up to 4 are read).
pub unsafe fn args(env: napi_env, info: napi_callback_info) -> JsResult<Vec<napi_value>> {
    let mut argc = 4usize;
    let mut argv = [ptr::null_mut(); 4];
    check(
        napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()),
        "napi_get_cb_info",
    )?;
    Ok(argv[..argc.min(4)].to_vec())
}

/// Runs an exported function body: errors are thrown as JS errors and a Rust
/// panic becomes a `WEIR_ERR_NATIVE_PANIC` error rather than aborting Node.
pub fn run(env: napi_env, info: napi_callback_info, f: fn(Env, &[napi_value]) -> JsResult<napi_value>) -> napi_value {
    let e = Env(env);
    let out = std::panic::catch_unwind(|| {
        let a = unsafe { args(env, info) }?;
        f(e, &a)
    });
    match out {
        Ok(Ok(v)) => v,
        Ok(Err(err)) => {
            e.throw(&err);
            ptr::null_mut()
        }
        Err(_) => {
            e.throw(&JsError { code: "WEIR_ERR_NATIVE_PANIC".into(), message: "internal error in the weir native addon".into(), errno: None, syscall: None });
            ptr::null_mut()
        }
    }
}

pub fn arg(a: &[napi_value], i: usize, what: &str) -> JsResult<napi_value> {
    a.get(i).copied().ok_or_else(|| JsError::arg(format!("missing argument: {what}")))
}
