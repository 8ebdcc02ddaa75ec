//! Link lookups: index, MAC, MTU and state by name (SIOCGIF* ioctls).

use crate::napi::{Env, JsResult};
use crate::sys::{self, ifreq, Fd};
use std::ffi::c_int;

fn ioctl_on(name: &str, req: std::ffi::c_ulong, call: &str) -> JsResult<ifreq> {
    let mut r = sys::ifreq_for(name)?;
    // Any socket reaches the device ioctls; a datagram socket needs no privilege.
    let s = unsafe { sys::socket(2 /* AF_INET */, 2 /* SOCK_DGRAM */ | sys::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(sys::last_error("socket(AF_INET, SOCK_DGRAM)", &format!("for link lookups of {name}")));
    }
    let s = Fd(s);
    if unsafe { sys::ioctl(s.0, req, &mut r as *mut ifreq) } < 0 {
        return Err(sys::last_error(call, &format!("on {name}")));
    }
    Ok(r)
}

pub fn ifindex(name: &str) -> JsResult<c_int> {
    let r = ioctl_on(name, sys::SIOCGIFINDEX, "ioctl(SIOCGIFINDEX)")?;
    Ok(c_int::from_ne_bytes([r.data[0], r.data[1], r.data[2], r.data[3]]))
}

pub struct LinkInfo {
    pub ifindex: c_int,
    pub mac: [u8; 6],
    pub mtu: c_int,
    pub up: bool,
    pub running: bool,
}

pub fn info(name: &str) -> JsResult<LinkInfo> {
    let ifindex = ifindex(name)?;
    let hw = ioctl_on(name, sys::SIOCGIFHWADDR, "ioctl(SIOCGIFHWADDR)")?;
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&hw.data[2..8]); // sockaddr: sa_family (2 bytes), then sa_data
    let m = ioctl_on(name, sys::SIOCGIFMTU, "ioctl(SIOCGIFMTU)")?;
    let mtu = c_int::from_ne_bytes([m.data[0], m.data[1], m.data[2], m.data[3]]);
    let f = ioctl_on(name, sys::SIOCGIFFLAGS, "ioctl(SIOCGIFFLAGS)")?;
    let flags = u16::from_ne_bytes([f.data[0], f.data[1]]);
    Ok(LinkInfo { ifindex, mac, mtu, up: flags & sys::IFF_UP != 0, running: flags & sys::IFF_RUNNING != 0 })
}

pub fn mac_string(m: &[u8; 6]) -> String {
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
}

/// `linkInfo(ifname)` → `{ ifindex, mac, mtu, up, running }`.
pub fn js_link_info(env: Env, a: &[crate::napi::napi_value]) -> JsResult<crate::napi::napi_value> {
    let name = env.to_string(crate::napi::arg(a, 0, "ifname")?, "ifname")?;
    let li = info(&name)?;
    let o = env.object()?;
    env.set_num(o, "ifindex", li.ifindex as f64)?;
    env.set(o, "mac", env.string(&mac_string(&li.mac))?)?;
    env.set_num(o, "mtu", li.mtu as f64)?;
    env.set(o, "up", env.boolean(li.up)?)?;
    env.set(o, "running", env.boolean(li.running)?)?;
    Ok(o)
}
