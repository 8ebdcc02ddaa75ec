//! TAP devices for the local-traffic path: frames the data plane does not
//! handle go to the kernel's stack through a TAP mirror of the data link.

use crate::napi::{arg, napi_value, Env, JsError, JsResult};
use crate::ring::{handle_arg, unknown_handle};
use crate::sys::{self, Fd};
use crate::table::{self, Entry, Geometry, Kind};
use std::ffi::c_void;

/// `tapOpen(name)` → `{ handle, name }`: a non-blocking TAP (IFF_TAP|IFF_NO_PI)
/// that exists while the handle is open. `name` may hold a `%d` pattern.
pub fn js_tap_open(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let name = env.to_string(arg(a, 0, "name")?, "tap name")?;
    let mut r = sys::ifreq_for(&name)?;
    let flags = sys::IFF_TAP | sys::IFF_NO_PI;
    r.data[..2].copy_from_slice(&flags.to_ne_bytes());
    let fd = unsafe { sys::open(b"/dev/net/tun\0".as_ptr(), sys::O_RDWR | sys::O_NONBLOCK | sys::O_CLOEXEC) };
    if fd < 0 {
        return Err(sys::last_error("open(/dev/net/tun)", &format!("for TAP {name}")));
    }
    let fd = Fd(fd);
    if unsafe { sys::ioctl(fd.0, sys::TUNSETIFF, &mut r as *mut sys::ifreq) } < 0 {
        return Err(sys::last_error("ioctl(TUNSETIFF, IFF_TAP|IFF_NO_PI)", &format!("creating TAP {name}")));
    }
    let len = r.name.iter().position(|b| *b == 0).unwrap_or(r.name.len());
    let actual = String::from_utf8_lossy(&r.name[..len]).into_owned();
    let id = table::lock().insert(Entry {
        fd: fd.release(),
        kind: Kind::Tap,
        ifname: actual.clone(),
        geometry: Geometry::default(),
        vnet_hdr: false,
        qdisc_bypass: false,
        owner_env: env.0 as usize,
        fixed: None,
        pending_error: 0,
    });
    let o = env.object()?;
    env.set_num(o, "handle", id as f64)?;
    env.set(o, "name", env.string(&actual)?)?;
    Ok(o)
}

fn tap_fd(id: u32, call: &str) -> JsResult<(i32, String)> {
    let t = table::lock();
    let e = t.entries.get(&id).ok_or_else(|| unknown_handle(id))?;
    if e.kind != Kind::Tap {
        return Err(JsError::arg(format!("{call}: handle {id} is a {} handle, not a TAP", e.kind.name())));
    }
    Ok((e.fd, e.ifname.clone()))
}

/// `tapWrite(handle, frame)` → bytes written, 0 if the device queue is full.
pub fn js_tap_write(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let id = handle_arg(env, a, 0)?;
    let (p, len, _) = env.uint8array(arg(a, 1, "frame")?, "tapWrite frame")?;
    let (fd, name) = tap_fd(id, "tapWrite")?;
    let n = unsafe { sys::write(fd, p as *const c_void, len) };
    if n < 0 {
        let e = sys::errno();
        if e == sys::EAGAIN || e == sys::EINTR {
            return env.number(0.0);
        }
        return Err(sys::sys_error("write", &format!("of a {len}-byte frame to TAP {name}"), e));
    }
    env.number(n as f64)
}

/// `tapRead(handle, buf)` → frame length, or 0 when none is waiting.
pub fn js_tap_read(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let id = handle_arg(env, a, 0)?;
    let (p, len, _) = env.uint8array(arg(a, 1, "buf")?, "tapRead buf")?;
    let (fd, name) = tap_fd(id, "tapRead")?;
    let n = unsafe { sys::read(fd, p as *mut c_void, len) };
    if n < 0 {
        let e = sys::errno();
        if e == sys::EAGAIN || e == sys::EINTR {
            return env.number(0.0);
        }
        return Err(sys::sys_error("read", &format!("from TAP {name}"), e));
    }
    env.number(n as f64)
}
