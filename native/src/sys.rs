//! The libc calls and Linux constants the addon needs (x86_64/aarch64 Linux
//! values), declared by hand: std only, no `libc` crate.
#![allow(dead_code, non_camel_case_types)]

use crate::napi::JsError;
use std::ffi::{c_int, c_long, c_uint, c_ulong, c_void};

pub const AF_PACKET: c_int = 17;
pub const SOCK_RAW: c_int = 3;
pub const SOCK_CLOEXEC: c_int = 0o2000000;
pub const SOL_SOCKET: c_int = 1;
pub const SOL_PACKET: c_int = 263;
pub const ETH_P_ALL: u16 = 0x0003;

pub const PROT_READ: c_int = 1;
pub const PROT_WRITE: c_int = 2;
pub const MAP_SHARED: c_int = 0x01;
pub const MAP_PRIVATE: c_int = 0x02;
pub const MAP_FIXED: c_int = 0x10;
pub const MAP_ANONYMOUS: c_int = 0x20;
pub const MAP_FAILED: *mut c_void = !0usize as *mut c_void;

pub const POLLIN: i16 = 0x001;
pub const POLLERR: i16 = 0x008;
pub const POLLHUP: i16 = 0x010;
pub const POLLNVAL: i16 = 0x020;

pub const MSG_DONTWAIT: c_int = 0x40;

pub const O_RDWR: c_int = 2;
pub const O_NONBLOCK: c_int = 0o4000;
pub const O_CLOEXEC: c_int = 0o2000000;
pub const EFD_NONBLOCK: c_int = 0o4000;
pub const EFD_CLOEXEC: c_int = 0o2000000;

pub const SIOCGIFFLAGS: c_ulong = 0x8913;
pub const SIOCGIFMTU: c_ulong = 0x8921;
pub const SIOCGIFHWADDR: c_ulong = 0x8927;
pub const SIOCGIFINDEX: c_ulong = 0x8933;
pub const IFF_UP: u16 = 0x1;
pub const IFF_RUNNING: u16 = 0x40;
pub const TUNSETIFF: c_ulong = 0x4004_54ca;
pub const IFF_TAP: u16 = 0x0002;
pub const IFF_NO_PI: u16 = 0x1000;
pub const IFNAMSIZ: usize = 16;

pub const EINTR: i32 = 4;
pub const EAGAIN: i32 = 11;
pub const ENOBUFS: i32 = 105;

const SC_PAGESIZE: c_int = 30;

#[repr(C)]
pub struct pollfd {
    pub fd: c_int,
    pub events: i16,
    pub revents: i16,
}

/// `struct ifreq`: a 16-byte name and a 24-byte union (the largest member is
/// `struct ifmap`).
#[repr(C)]
pub struct ifreq {
    pub name: [u8; IFNAMSIZ],
    pub data: [u8; 24],
}

/// `struct sockaddr_ll` (20 bytes).
#[repr(C)]
pub struct sockaddr_ll {
    pub family: u16,
    pub protocol: u16, // network byte order
    pub ifindex: c_int,
    pub hatype: u16,
    pub pkttype: u8,
    pub halen: u8,
    pub addr: [u8; 8],
}

extern "C" {
    pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int;
    pub fn bind(fd: c_int, addr: *const c_void, len: c_uint) -> c_int;
    pub fn setsockopt(fd: c_int, level: c_int, name: c_int, val: *const c_void, len: c_uint) -> c_int;
    pub fn getsockopt(fd: c_int, level: c_int, name: c_int, val: *mut c_void, len: *mut c_uint) -> c_int;
    pub fn sendto(fd: c_int, buf: *const c_void, len: usize, flags: c_int, addr: *const c_void, alen: c_uint) -> isize;
    pub fn ioctl(fd: c_int, req: c_ulong, ...) -> c_int;
    pub fn mmap(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int, off: c_long) -> *mut c_void;
    pub fn munmap(addr: *mut c_void, len: usize) -> c_int;
    pub fn poll(fds: *mut pollfd, n: c_ulong, timeout: c_int) -> c_int;
    pub fn open(path: *const u8, flags: c_int, ...) -> c_int;
    pub fn close(fd: c_int) -> c_int;
    pub fn dup(fd: c_int) -> c_int;
    pub fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize;
    pub fn write(fd: c_int, buf: *const c_void, n: usize) -> isize;
    pub fn eventfd(init: c_uint, flags: c_int) -> c_int;
    pub fn sysconf(name: c_int) -> c_long;
}

pub fn page_size() -> usize {
    let n = unsafe { sysconf(SC_PAGESIZE) };
    if n > 0 { n as usize } else { 4096 }
}

pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub fn errno_name(n: i32) -> &'static str {
    match n {
        1 => "EPERM", 2 => "ENOENT", 3 => "ESRCH", 4 => "EINTR", 5 => "EIO", 6 => "ENXIO",
        7 => "E2BIG", 9 => "EBADF", 11 => "EAGAIN", 12 => "ENOMEM", 13 => "EACCES",
        14 => "EFAULT", 16 => "EBUSY", 17 => "EEXIST", 19 => "ENODEV", 22 => "EINVAL",
        23 => "ENFILE", 24 => "EMFILE", 25 => "ENOTTY", 28 => "ENOSPC", 32 => "EPIPE",
        34 => "ERANGE", 36 => "ENAMETOOLONG", 38 => "ENOSYS", 75 => "EOVERFLOW", 77 => "EBADFD",
        88 => "ENOTSOCK", 89 => "EDESTADDRREQ", 90 => "EMSGSIZE", 91 => "EPROTOTYPE",
        92 => "ENOPROTOOPT", 93 => "EPROTONOSUPPORT", 95 => "EOPNOTSUPP", 97 => "EAFNOSUPPORT",
        98 => "EADDRINUSE", 99 => "EADDRNOTAVAIL", 100 => "ENETDOWN", 101 => "ENETUNREACH",
        105 => "ENOBUFS", 110 => "ETIMEDOUT",
        _ => "EUNKNOWN",
    }
}

/// The JS error for a failed system call: "`call` `what`: ENAME (text)".
pub fn sys_error(call: &str, what: &str, n: i32) -> JsError {
    let text = std::io::Error::from_raw_os_error(n).to_string();
    let text = text.split(" (os error").next().unwrap_or("").to_string();
    let name = errno_name(n);
    let sep = if what.is_empty() { "" } else { " " };
    JsError {
        code: name.to_string(),
        message: format!("{call}{sep}{what}: {name} ({text})"),
        errno: Some(n),
        syscall: Some(call.to_string()),
    }
}

/// `sys_error` with the current errno.
pub fn last_error(call: &str, what: &str) -> JsError {
    sys_error(call, what, errno())
}

pub fn setsockopt_val<T>(fd: c_int, level: c_int, name: c_int, v: &T) -> Result<(), i32> {
    let r = unsafe { setsockopt(fd, level, name, v as *const T as *const c_void, std::mem::size_of::<T>() as c_uint) };
    if r == 0 { Ok(()) } else { Err(errno()) }
}

/// An `ifreq` with `name` filled in, or an argument error for a bad name.
pub fn ifreq_for(name: &str) -> Result<ifreq, JsError> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() >= IFNAMSIZ || b.contains(&0) || b.contains(&b'/') {
        return Err(JsError::arg(format!("interface name {name:?} must be 1 to 15 bytes without '/' or NUL")));
    }
    let mut r = ifreq { name: [0; IFNAMSIZ], data: [0; 24] };
    r.name[..b.len()].copy_from_slice(b);
    Ok(r)
}

/// Closes a descriptor on drop unless released.
pub struct Fd(pub c_int);
impl Fd {
    pub fn release(mut self) -> c_int {
        let fd = self.0;
        self.0 = -1;
        fd
    }
}
impl Drop for Fd {
    fn drop(&mut self) {
        if self.0 >= 0 {
            unsafe { close(self.0) };
        }
    }
}
