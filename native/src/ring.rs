//! AF_PACKET sockets with mapped rings: an RX ring per socket (TPACKET_V3 by
//! default, V2 on request; `weir run` asks for V2), optionally with a socket
//! filter or in a fanout group, and a TPACKET_V2 TX ring on a TX-only socket
//! (protocol 0: it receives nothing). See README.md for the layouts.

use crate::link;
use crate::napi::{self, arg, napi_value, Env, JsError, JsResult};
use crate::sys::{self, setsockopt_val, Fd};
use crate::table::{self, Entry, FixedMap, Geometry, Kind};
use std::ffi::{c_int, c_uint, c_void};
use std::ptr;

const PACKET_RX_RING: c_int = 5;
const PACKET_STATISTICS: c_int = 6;
const PACKET_VERSION: c_int = 10;
const PACKET_TX_RING: c_int = 13;
const PACKET_LOSS: c_int = 14;
const PACKET_VNET_HDR: c_int = 15;
const PACKET_FANOUT: c_int = 18;
const PACKET_QDISC_BYPASS: c_int = 20;
const PACKET_FANOUT_DATA: c_int = 22;
const PACKET_IGNORE_OUTGOING: c_int = 23;
const SO_ERROR: c_int = 4;

const TPACKET_V2: c_int = 1;
const TPACKET_V3: c_int = 2;
const TPACKET_ALIGNMENT: u32 = 16;
const TP_FT_REQ_FILL_RXHASH: u32 = 1;
/// TPACKET2_HDRLEN - sizeof(sockaddr_ll): where TX frame data starts.
pub const TX_DATA_OFFSET: u32 = 32;
/// TPACKET3_HDRLEN (48 + 20), the least room a V3 frame needs.
const TPACKET3_HDRLEN: u32 = 68;

const MAX_RING_BYTES: u64 = 1 << 31;

#[repr(C)]
struct TpacketReq {
    block_size: c_uint,
    block_nr: c_uint,
    frame_size: c_uint,
    frame_nr: c_uint,
}

#[repr(C)]
struct TpacketReq3 {
    block_size: c_uint,
    block_nr: c_uint,
    frame_size: c_uint,
    frame_nr: c_uint,
    retire_blk_tov: c_uint,
    sizeof_priv: c_uint,
    feature_req_word: c_uint,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const u8,
}

fn fanout_mode(s: &str) -> JsResult<c_int> {
    Ok(match s {
        "hash" => 0,
        "lb" => 1,
        "cpu" => 2,
        "rollover" => 3,
        "rnd" => 4,
        "qm" => 5,
        "cbpf" => 6,
        _ => return Err(JsError::arg(format!("fanoutMode {s:?} must be one of hash, lb, cpu, rollover, rnd, qm, cbpf"))),
    })
}

/// A sock_filter[] program given as bytes (8 per instruction, 1 to 4096 of them).
fn cbpf_program(env: Env, v: napi_value, what: &str) -> JsResult<Vec<u8>> {
    let (p, len, _) = env.uint8array(v, what)?;
    if len == 0 || len % 8 != 0 || len / 8 > 4096 {
        return Err(JsError::arg(format!("{what} must hold 1 to 4096 sock_filter entries of 8 bytes (got {len} bytes)")));
    }
    Ok(unsafe { std::slice::from_raw_parts(p, len) }.to_vec())
}

const SO_ATTACH_FILTER: c_int = 26;

/// SO_ATTACH_FILTER: the kernel swaps a socket's filter atomically.
fn attach_filter(fd: c_int, prog: &[u8], on: &str) -> JsResult<()> {
    let fprog = SockFprog { len: (prog.len() / 8) as u16, filter: prog.as_ptr() };
    setsockopt_val(fd, sys::SOL_SOCKET, SO_ATTACH_FILTER, &fprog)
        .map_err(|e| sys::sys_error("setsockopt(SO_ATTACH_FILTER)", &format!("{on} ({} cBPF instructions)", prog.len() / 8), e))
}

/// `setFilter(handle, program)`: replaces the socket filter of an RX ring.
pub fn js_set_filter(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let id = handle_arg(env, a, 0)?;
    let prog = cbpf_program(env, arg(a, 1, "program")?, "setFilter program")?;
    let t = table::lock();
    let e = t.entries.get(&id).ok_or_else(|| unknown_handle(id))?;
    if e.kind != Kind::Rx {
        return Err(JsError::arg(format!("setFilter: handle {id} is a {} handle, not an RX ring", e.kind.name())));
    }
    attach_filter(e.fd, &prog, &format!("on {}", e.ifname))?;
    Ok(env.undefined())
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

struct Opts<'a> {
    env: Env,
    obj: Option<napi_value>,
    ctx: &'a str,
}

impl Opts<'_> {
    fn uint(&self, key: &str, def: Option<u64>, max: u64) -> JsResult<u64> {
        match self.env.opt(self.obj, key)? {
            Some(v) => self.env.to_uint(v, &format!("{}.{key}", self.ctx), max),
            None => def.ok_or_else(|| JsError::arg(format!("{}.{key} is required", self.ctx))),
        }
    }
    fn flag(&self, key: &str, def: bool) -> JsResult<bool> {
        match self.env.opt(self.obj, key)? {
            Some(v) => self.env.to_bool(v, &format!("{}.{key}", self.ctx)),
            None => Ok(def),
        }
    }
}

fn open_socket(protocol: u16, what: &str) -> JsResult<Fd> {
    let fd = unsafe { sys::socket(sys::AF_PACKET, sys::SOCK_RAW | sys::SOCK_CLOEXEC, protocol.to_be() as c_int) };
    if fd < 0 {
        return Err(sys::last_error("socket(AF_PACKET, SOCK_RAW)", what));
    }
    Ok(Fd(fd))
}

fn set_int(fd: &Fd, name: c_int, v: c_int, call: &str, what: &str) -> JsResult<()> {
    setsockopt_val(fd.0, sys::SOL_PACKET, name, &v).map_err(|e| sys::sys_error(call, what, e))
}

fn bind_to(fd: &Fd, ifindex: c_int, protocol: u16, what: &str) -> JsResult<()> {
    let sll = sys::sockaddr_ll {
        family: sys::AF_PACKET as u16,
        protocol: protocol.to_be(),
        ifindex,
        hatype: 0,
        pkttype: 0,
        halen: 0,
        addr: [0; 8],
    };
    let r = unsafe { sys::bind(fd.0, &sll as *const _ as *const c_void, std::mem::size_of::<sys::sockaddr_ll>() as c_uint) };
    if r < 0 {
        return Err(sys::last_error("bind(AF_PACKET)", what));
    }
    Ok(())
}

/// `openRx(ifname, opts)` → handle.
pub fn js_open_rx(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let name = env.to_string(arg(a, 0, "ifname")?, "ifname")?;
    let obj = match a.get(1) {
        Some(v) if !env.is_nullish(*v)? => Some(*v),
        _ => None,
    };
    let o = Opts { env, obj, ctx: "openRx options" };
    let page = sys::page_size() as u64;
    let version = o.uint("version", Some(3), 3)?;
    if version != 2 && version != 3 {
        return Err(JsError::arg(format!("openRx options.version {version} must be 3 (TPACKET_V3, blocks) or 2 (TPACKET_V2, one slot per frame)")));
    }
    let block_size = o.uint("blockSize", None, 1 << 30)?;
    let block_count = o.uint("blockCount", None, 1 << 20)?;
    let frame_size = o.uint("frameSize", None, 1 << 30)?;
    let tov = o.uint("blockTimeoutMs", Some(1), 60_000)?;
    let vnet = o.flag("vnetHdr", false)?;
    let rxhash = o.flag("rxhash", false)?;
    let ignore_outgoing = o.flag("ignoreOutgoing", true)?;
    if block_size == 0 || block_size % page != 0 {
        return Err(JsError::arg(format!("openRx options.blockSize {block_size} must be a positive multiple of the page size {page}")));
    }
    if frame_size < TPACKET3_HDRLEN as u64 || frame_size % TPACKET_ALIGNMENT as u64 != 0 || frame_size > block_size {
        return Err(JsError::arg(format!(
            "openRx options.frameSize {frame_size} must be a multiple of {TPACKET_ALIGNMENT}, at least {TPACKET3_HDRLEN} and at most blockSize"
        )));
    }
    if version == 2 && block_size % frame_size != 0 {
        return Err(JsError::arg(format!("openRx options.frameSize {frame_size} must divide blockSize {block_size} for version 2 (frame i at i × frameSize)")));
    }
    if block_count == 0 || block_size * block_count > MAX_RING_BYTES {
        return Err(JsError::arg(format!("openRx options.blockCount {block_count} must be at least 1, with blockSize × blockCount ≤ 2 GiB")));
    }
    let fanout_group = match env.opt(obj, "fanoutGroup")? {
        Some(v) => Some(env.to_uint(v, "openRx options.fanoutGroup", 0xffff)? as c_int),
        None => None,
    };
    let mode = match env.opt(obj, "fanoutMode")? {
        Some(v) => fanout_mode(&env.to_string(v, "openRx options.fanoutMode")?)?,
        None => 0,
    };
    let fanout_flags = o.uint("fanoutFlags", Some(0), 0xf000)? as c_int;
    let cbpf = match env.opt(obj, "cbpf")? {
        Some(v) => Some(cbpf_program(env, v, "openRx options.cbpf")?),
        None => None,
    };
    let filter = match env.opt(obj, "filter")? {
        Some(v) => Some(cbpf_program(env, v, "openRx options.filter")?),
        None => None,
    };
    if mode == 6 && cbpf.is_none() {
        return Err(JsError::arg("openRx: fanoutMode \"cbpf\" needs options.cbpf (a sock_filter[] program)"));
    }
    if fanout_group.is_none() && (cbpf.is_some() || env.opt(obj, "fanoutMode")?.is_some()) {
        return Err(JsError::arg("openRx: fanoutMode and cbpf need options.fanoutGroup"));
    }

    let ifindex = link::ifindex(&name)?;
    let on = format!("on {name}");
    let fd = open_socket(0, &format!("for RX {on}"))?;
    if version == 3 {
        set_int(&fd, PACKET_VERSION, TPACKET_V3, "setsockopt(PACKET_VERSION, TPACKET_V3)", &on)?;
    } else {
        set_int(&fd, PACKET_VERSION, TPACKET_V2, "setsockopt(PACKET_VERSION, TPACKET_V2)", &on)?;
    }
    if vnet {
        set_int(&fd, PACKET_VNET_HDR, 1, "setsockopt(PACKET_VNET_HDR)", &on)?;
    }
    if ignore_outgoing {
        set_int(&fd, PACKET_IGNORE_OUTGOING, 1, "setsockopt(PACKET_IGNORE_OUTGOING)", &on)?;
    }
    let fpb = block_size / frame_size;
    let req = TpacketReq3 {
        block_size: block_size as c_uint,
        block_nr: block_count as c_uint,
        frame_size: frame_size as c_uint,
        frame_nr: (fpb * block_count) as c_uint,
        retire_blk_tov: tov as c_uint,
        sizeof_priv: 0,
        feature_req_word: if rxhash { TP_FT_REQ_FILL_RXHASH } else { 0 },
    };
    let set = if version == 3 {
        setsockopt_val(fd.0, sys::SOL_PACKET, PACKET_RX_RING, &req)
    } else {
        let req2 = TpacketReq { block_size: req.block_size, block_nr: req.block_nr, frame_size: req.frame_size, frame_nr: req.frame_nr };
        setsockopt_val(fd.0, sys::SOL_PACKET, PACKET_RX_RING, &req2)
    };
    set.map_err(|e| {
        sys::sys_error(
            "setsockopt(PACKET_RX_RING)",
            &format!("{on} (TPACKET_V{version}, {block_count} blocks of {block_size} bytes, frame {frame_size})"),
            e,
        )
    })?;
    // Before bind: no frame reaches the ring unfiltered.
    if let Some(prog) = &filter {
        attach_filter(fd.0, prog, &on)?;
    }
    bind_to(&fd, ifindex, sys::ETH_P_ALL, &format!("{on} (ifindex {ifindex}, ETH_P_ALL)"))?;
    if let Some(group) = fanout_group {
        let v = group | ((mode | fanout_flags) << 16);
        set_int(&fd, PACKET_FANOUT, v, "setsockopt(PACKET_FANOUT)", &format!("{on} (group {group}, mode {mode}, flags {fanout_flags:#x})"))?;
        if let Some(prog) = &cbpf {
            let fprog = SockFprog { len: (prog.len() / 8) as u16, filter: prog.as_ptr() };
            setsockopt_val(fd.0, sys::SOL_PACKET, PACKET_FANOUT_DATA, &fprog).map_err(|e| {
                sys::sys_error("setsockopt(PACKET_FANOUT_DATA)", &format!("{on} (group {group}, {} cBPF instructions)", prog.len() / 8), e)
            })?;
        }
    }
    let geometry = Geometry {
        version: version as u32,
        size: (block_size * block_count) as usize,
        block_size: block_size as u32,
        block_count: block_count as u32,
        frame_size: frame_size as u32,
        frame_count: (fpb * block_count) as u32,
        block_timeout_ms: tov as u32,
    };
    let id = table::lock().insert(Entry {
        fd: fd.release(),
        kind: Kind::Rx,
        ifname: name,
        geometry,
        vnet_hdr: vnet,
        qdisc_bypass: false,
        owner_env: env.0 as usize,
        fixed: None,
        pending_error: 0,
    });
    env.number(id as f64)
}

/// `openTx(ifname, opts)` → handle.
pub fn js_open_tx(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let name = env.to_string(arg(a, 0, "ifname")?, "ifname")?;
    let obj = match a.get(1) {
        Some(v) if !env.is_nullish(*v)? => Some(*v),
        _ => None,
    };
    let o = Opts { env, obj, ctx: "openTx options" };
    let page = sys::page_size() as u64;
    let frame_size = o.uint("frameSize", None, 1 << 24)?;
    let frame_count = o.uint("frameCount", None, 1 << 22)?;
    let vnet = o.flag("vnetHdr", false)?;
    let want_bypass = o.flag("qdiscBypass", true)?;
    let loss = o.flag("loss", true)?;
    if frame_size <= TX_DATA_OFFSET as u64 || frame_size % TPACKET_ALIGNMENT as u64 != 0 {
        return Err(JsError::arg(format!("openTx options.frameSize {frame_size} must be a multiple of {TPACKET_ALIGNMENT} above {TX_DATA_OFFSET}")));
    }
    // Frames must tile the blocks exactly so frame i sits at i × frameSize.
    let block_size = frame_size / gcd(frame_size, page) * page;
    if block_size > 1 << 18 {
        return Err(JsError::arg(format!(
            "openTx options.frameSize {frame_size} does not tile pages of {page} bytes: use a power of two or a multiple of {page}"
        )));
    }
    let fpb = block_size / frame_size;
    if frame_count == 0 || frame_count % fpb != 0 || frame_size * frame_count > MAX_RING_BYTES {
        return Err(JsError::arg(format!(
            "openTx options.frameCount {frame_count} must be a positive multiple of {fpb} (frames per {block_size}-byte block), ring ≤ 2 GiB"
        )));
    }
    let block_count = frame_count / fpb;

    let ifindex = link::ifindex(&name)?;
    let on = format!("on {name}");
    let fd = open_socket(0, &format!("for TX {on}"))?;
    set_int(&fd, PACKET_VERSION, TPACKET_V2, "setsockopt(PACKET_VERSION, TPACKET_V2)", &on)?;
    if vnet {
        set_int(&fd, PACKET_VNET_HDR, 1, "setsockopt(PACKET_VNET_HDR)", &on)?;
    }
    let bypass = want_bypass && setsockopt_val(fd.0, sys::SOL_PACKET, PACKET_QDISC_BYPASS, &(1 as c_int)).is_ok();
    if loss {
        set_int(&fd, PACKET_LOSS, 1, "setsockopt(PACKET_LOSS)", &on)?;
    }
    let req = TpacketReq {
        block_size: block_size as c_uint,
        block_nr: block_count as c_uint,
        frame_size: frame_size as c_uint,
        frame_nr: frame_count as c_uint,
    };
    setsockopt_val(fd.0, sys::SOL_PACKET, PACKET_TX_RING, &req).map_err(|e| {
        sys::sys_error(
            "setsockopt(PACKET_TX_RING)",
            &format!("{on} (TPACKET_V2, {frame_count} frames of {frame_size} bytes in {block_count} blocks of {block_size})"),
            e,
        )
    })?;
    bind_to(&fd, ifindex, 0, &format!("{on} (ifindex {ifindex}, protocol 0)"))?;
    let geometry = Geometry {
        version: 2,
        size: (block_size * block_count) as usize,
        block_size: block_size as u32,
        block_count: block_count as u32,
        frame_size: frame_size as u32,
        frame_count: frame_count as u32,
        block_timeout_ms: 0,
    };
    let id = table::lock().insert(Entry {
        fd: fd.release(),
        kind: Kind::Tx,
        ifname: name,
        geometry,
        vnet_hdr: vnet,
        qdisc_bypass: bypass,
        owner_env: env.0 as usize,
        fixed: None,
        pending_error: 0,
    });
    env.number(id as f64)
}

pub fn handle_arg(env: Env, a: &[napi_value], i: usize) -> JsResult<u32> {
    Ok(env.to_uint(arg(a, i, "handle")?, "handle", u32::MAX as u64)? as u32)
}

pub fn unknown_handle(id: u32) -> JsError {
    JsError { code: "WEIR_ERR_BAD_HANDLE".into(), message: format!("handle {id} is not open (closed already, or never opened)"), errno: None, syscall: None }
}

fn geometry_object(env: Env, e: &Entry, offset: usize) -> JsResult<napi_value> {
    let g = &e.geometry;
    let o = env.object()?;
    env.set(o, "kind", env.string(e.kind.name())?)?;
    env.set(o, "ifname", env.string(&e.ifname)?)?;
    env.set_num(o, "version", g.version as f64)?;
    env.set_num(o, "offset", offset as f64)?;
    env.set_num(o, "size", g.size as f64)?;
    env.set_num(o, "blockSize", g.block_size as f64)?;
    env.set_num(o, "blockCount", g.block_count as f64)?;
    env.set_num(o, "frameSize", g.frame_size as f64)?;
    env.set_num(o, "frameCount", g.frame_count as f64)?;
    env.set(o, "vnetHdr", env.boolean(e.vnet_hdr)?)?;
    if e.kind == Kind::Rx {
        if g.version == 3 {
            env.set_num(o, "blockTimeoutMs", g.block_timeout_ms as f64)?;
        }
    } else {
        env.set_num(o, "dataOffset", TX_DATA_OFFSET as f64)?;
        env.set(o, "qdiscBypass", env.boolean(e.qdisc_bypass)?)?;
    }
    Ok(o)
}

fn ring_entry<'a>(t: &'a mut table::Table, id: u32, call: &str) -> JsResult<&'a mut Entry> {
    let e = t.entries.get_mut(&id).ok_or_else(|| unknown_handle(id))?;
    if e.kind != Kind::Rx && e.kind != Kind::Tx {
        return Err(JsError::arg(format!("{call}: handle {id} is a {} handle, not a packet ring", e.kind.name())));
    }
    Ok(e)
}

/// `ringInfo(handle)` → geometry (offset 0 or where it is mapped).
pub fn js_ring_info(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let id = handle_arg(env, a, 0)?;
    let mut t = table::lock();
    let e = ring_entry(&mut t, id, "ringInfo")?;
    geometry_object(env, e, 0)
}

/// `mapInto(handle, memory, offset)`: maps the ring with MAP_SHARED|MAP_FIXED
/// over `memory`'s bytes [offset, offset + size).
pub fn js_map_into(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let id = handle_arg(env, a, 0)?;
    let (data, len, buffer) = env.uint8array(arg(a, 1, "memory")?, "mapInto memory")?;
    let offset = env.to_uint(arg(a, 2, "offset")?, "mapInto offset", u64::MAX >> 12)? as usize;
    let page = sys::page_size();
    let mut t = table::lock();
    let e = ring_entry(&mut t, id, "mapInto")?;
    let size = e.geometry.size;
    if e.fixed.is_some() {
        return Err(JsError::arg(format!("mapInto: handle {id} ({} ring on {}) is already mapped into memory", e.kind.name(), e.ifname)));
    }
    if offset % page != 0 {
        return Err(JsError::arg(format!("mapInto: offset {offset} is not a multiple of the page size {page}")));
    }
    if (data as usize) % page != 0 {
        return Err(JsError::arg(format!(
            "mapInto: the memory view does not start on a page boundary (byteOffset must be a multiple of {page}; use a view over a WebAssembly.Memory buffer)"
        )));
    }
    if offset.checked_add(size).map(|end| end > len).unwrap_or(true) {
        return Err(JsError::arg(format!(
            "mapInto: ring of {size} bytes at offset {offset} does not fit in the memory view of {len} bytes"
        )));
    }
    let addr = unsafe { data.add(offset) } as *mut c_void;
    let got = unsafe { sys::mmap(addr, size, sys::PROT_READ | sys::PROT_WRITE, sys::MAP_SHARED | sys::MAP_FIXED, e.fd, 0) };
    if got == sys::MAP_FAILED {
        return Err(sys::last_error(
            "mmap(MAP_SHARED|MAP_FIXED)",
            &format!("of the {} ring on {} ({size} bytes) into memory at offset {offset}", e.kind.name(), e.ifname),
        ));
    }
    let mut r = ptr::null_mut();
    unsafe { napi::napi_create_reference(env.0, buffer, 1, &mut r) };
    e.fixed = Some(FixedMap { addr: addr as usize, size, env: env.0 as usize, buffer_ref: r });
    geometry_object(env, e, offset)
}

unsafe extern "C" fn unmap_finalize(_env: napi::napi_env, data: *mut c_void, hint: *mut c_void) {
    sys::munmap(data, hint as usize);
}

/// `mapSeparate(handle)` → `{ buffer, ...geometry }`: the ring in a mapping of
/// its own, as an external ArrayBuffer (unmapped when the buffer is collected).
pub fn js_map_separate(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let id = handle_arg(env, a, 0)?;
    let mut t = table::lock();
    let e = ring_entry(&mut t, id, "mapSeparate")?;
    let size = e.geometry.size;
    let p = unsafe { sys::mmap(ptr::null_mut(), size, sys::PROT_READ | sys::PROT_WRITE, sys::MAP_SHARED, e.fd, 0) };
    if p == sys::MAP_FAILED {
        return Err(sys::last_error("mmap(MAP_SHARED)", &format!("of the {} ring on {} ({size} bytes)", e.kind.name(), e.ifname)));
    }
    let mut ab = ptr::null_mut();
    let st = unsafe { napi::napi_create_external_arraybuffer(env.0, p, size, Some(unmap_finalize), size as *mut c_void, &mut ab) };
    if st != napi::NAPI_OK {
        unsafe { sys::munmap(p, size) };
        return Err(JsError { code: "WEIR_ERR_NAPI".into(), message: format!("mapSeparate: napi_create_external_arraybuffer failed (status {st})"), errno: None, syscall: None });
    }
    let o = geometry_object(env, e, 0)?;
    env.set(o, "buffer", ab)?;
    Ok(o)
}

/// `close(handle)`: unmaps a ring mapped into memory (putting zero pages
/// back) and closes the descriptor. Closing a closed handle is an error.
pub fn js_close(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let id = handle_arg(env, a, 0)?;
    let e = table::lock().entries.remove(&id).ok_or_else(|| unknown_handle(id))?;
    if let Some(m) = &e.fixed {
        table::restore_anonymous(m);
        if m.env == env.0 as usize && !m.buffer_ref.is_null() {
            unsafe { napi::napi_delete_reference(env.0, m.buffer_ref) };
        }
    }
    if unsafe { sys::close(e.fd) } < 0 {
        return Err(sys::last_error("close", &format!("of the {} handle {id} on {}", e.kind.name(), e.ifname)));
    }
    Ok(env.undefined())
}

/// `kickTx(handle)` → bytes handed to the device (0 on a transient EAGAIN/ENOBUFS).
pub fn js_kick_tx(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let id = handle_arg(env, a, 0)?;
    let fd = {
        let mut t = table::lock();
        let e = ring_entry(&mut t, id, "kickTx")?;
        if e.kind != Kind::Tx {
            return Err(JsError::arg(format!("kickTx: handle {id} is an RX ring")));
        }
        e.fd
    };
    let n = unsafe { sys::sendto(fd, ptr::null(), 0, sys::MSG_DONTWAIT, ptr::null(), 0) };
    if n < 0 {
        let err = sys::errno();
        if err == sys::EAGAIN || err == sys::ENOBUFS || err == sys::EINTR {
            return env.number(0.0);
        }
        let name = table::lock().entries.get(&id).map(|e| e.ifname.clone()).unwrap_or_default();
        return Err(sys::sys_error("sendto", &format!("kicking the TX ring on {name}"), err));
    }
    env.number(n as f64)
}

fn so_error(fd: c_int) -> i32 {
    let mut v: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as c_uint;
    unsafe { sys::getsockopt(fd, sys::SOL_SOCKET, SO_ERROR, &mut v as *mut c_int as *mut c_void, &mut len) };
    v
}

/// Reads and clears a socket's pending error (after POLLERR).
pub fn take_socket_error(id: u32) {
    let mut t = table::lock();
    if let Some(e) = t.entries.get_mut(&id) {
        if e.kind == Kind::Rx || e.kind == Kind::Tx {
            let err = so_error(e.fd);
            if err != 0 {
                e.pending_error = err;
            }
        }
    }
}

/// `stats(handle)` → PACKET_STATISTICS since the previous call (the kernel
/// resets them on read): `{ packets, drops, freezes, error }`.
pub fn js_stats(env: Env, a: &[napi_value]) -> JsResult<napi_value> {
    let id = handle_arg(env, a, 0)?;
    let mut t = table::lock();
    let e = ring_entry(&mut t, id, "stats")?;
    let mut st = [0u32; 3];
    let mut len: c_uint = if e.kind == Kind::Rx && e.geometry.version == 3 { 12 } else { 8 };
    if unsafe { sys::getsockopt(e.fd, sys::SOL_PACKET, PACKET_STATISTICS, st.as_mut_ptr() as *mut c_void, &mut len) } < 0 {
        return Err(sys::last_error("getsockopt(PACKET_STATISTICS)", &format!("on {}", e.ifname)));
    }
    let mut err = std::mem::take(&mut e.pending_error);
    if err == 0 {
        err = so_error(e.fd);
    }
    let o = env.object()?;
    env.set_num(o, "packets", st[0] as f64)?;
    env.set_num(o, "drops", st[1] as f64)?;
    env.set_num(o, "freezes", st[2] as f64)?;
    let ev = if err == 0 { env.null() } else { env.string(sys::errno_name(err))? };
    env.set(o, "error", ev)?;
    Ok(o)
}
