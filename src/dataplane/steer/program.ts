// The steering rule (rule.ts) compiled to one worker's socket filter: a
// classic BPF program, built with the assembler in cbpf.ts, that accepts
// exactly the frames the rule gives that worker (or, for the supervisor's own
// socket, member -1, the frames that go to all).
//
// "Is it a NAT real?" in the program (the supervisor's never asks): IPv6 by a
// chain of 4-word compares (8 instructions per address). IPv4 by a balanced
// search tree over the sorted reals taken as items: runs of consecutive
// addresses (a three-way jge/jgt node, about 1.5 instructions per run) and
// 32-aligned blocks of 3 or more runs as bitmaps (X = 1 << (A & 31) computed
// once, then `ld #mask; jset x` at the block's leaf: about 3 instructions per
// block of 32 addresses). So the 4,096-instruction limit depends on the shape
// of the set, not its size: about 2,450 isolated addresses (2,447 with ports,
// 2,465 by address only), but pools filling whole /24s cost a few instructions
// per /24 (2,500 reals x.x.d.1..250 in 10 /24s: 22), and /24s each holding
// 200 random addresses about 25 each (about 160 of them, 32,000 reals).

import { WeirError } from "../errors.js";
import {
  Asm, encode, layout, MAX_INSNS, type Label,
  ABS, ADD, ALU, AND, B, H, IMM, IND, JEQ, JGE, JGT, JSET, K, LD, LDX, LEN, LSH, MEM, MISC, MOD, MUL, RET, RSH, ST, STX, SUB, TAX, TXA, W, X, XOR,
} from "./cbpf.js";
import { checkWorkers, reals, ETH_8021AD, ETH_8021Q, ETH_ARP, ETH_IP, ETH_IPV6, K1, K2, K3, ND_NA, type SteerSpec } from "./rule.js";

// Scratch cells M[0..15].
const M_L3 = 0, M_ADDR = 1, M_POFF = 2, M_PORT = 3, M_H = 4, M_BASE = 5, M_QUOTED = 6, M_TMP = 7;

/** The sock_filter[] program (8 bytes per instruction) for SO_ATTACH_FILTER. Throws WeirError("WEIR_ERR_STEER_TOO_LARGE", …) when it would exceed 4096 instructions. */
export function steerProgram(spec: SteerSpec): Uint8Array {
  const { workers, member, byAddressOnly } = spec;
  checkWorkers(workers);
  if (!Number.isInteger(member) || member < -1 || member >= workers) {
    throw new WeirError("WEIR_ERR_STEER", `member must be -1..${workers - 1}, not ${member}`);
  }
  const r = reals(spec.natReals);
  // A lone worker owns everything (the "all" frames too).
  if (workers === 1 && member === 0) return encode([{ code: RET | K, k: 0xffffffff }]);

  const a = new Asm();
  const ACCEPT = a.label(), DROP = a.label(), ALL = ACCEPT;
  const W0 = member === 0 ? ACCEPT : DROP;
  // The supervisor only takes "all" frames: it never hashes, so its program never holds the tree.
  const hashed = member >= 0;
  const IP4 = hashed ? a.label() : DROP, IP6OWN = hashed ? a.label() : DROP, ICMP6 = hashed ? a.label() : DROP;
  const PORTS = a.label(), NOPORT = a.label(), HASH = a.label();
  const VLAN = a.label(), L3 = a.label(), IP6 = a.label();
  /** A = bytes from the L3 header on (X = L3 offset, len >= X already). */
  const avail = () => { a.op(LD | W | LEN); a.op(ALU | SUB | X); };

  // Ethernet, one optional VLAN tag: A = ethertype, X = L3 offset.
  a.op(LD | W | LEN);
  a.jmp(JGE, 14, undefined, W0);
  a.op(LD | H | ABS, 12);
  a.jmp(JEQ, ETH_8021Q, VLAN);
  a.jmp(JEQ, ETH_8021AD, VLAN);
  a.op(LDX | W | IMM, 14);
  a.ja(L3);
  a.bind(VLAN);
  a.op(LD | W | LEN);
  a.jmp(JGE, 18, undefined, W0);
  a.op(LD | H | ABS, 16);
  a.op(LDX | W | IMM, 18);
  a.bind(L3);
  a.jmp(JEQ, ETH_IP, IP4);
  a.jmp(JEQ, ETH_IPV6, IP6);
  a.jmp(JEQ, ETH_ARP, undefined, W0);

  // ARP: replies to all, requests to worker 0.
  avail();
  a.jmp(JGE, 8, undefined, W0);
  a.op(LD | H | IND, 6);
  a.jmp(JEQ, 2, ALL, W0);

  // IPv6: neighbour advertisements to all, other NDP to worker 0.
  a.bind(IP6);
  avail();
  a.jmp(JGE, 40, undefined, W0);
  a.op(LD | B | IND, 6);
  a.jmp(JEQ, 58, undefined, IP6OWN);
  avail();
  a.jmp(JGE, 41, undefined, W0);
  a.op(LD | B | IND, 40);
  a.jmp(JEQ, ND_NA, ALL);
  a.jmp(JGE, 133, undefined, ICMP6);
  a.jmp(JGT, 137, IP6OWN, W0);

  if (hashed) {
    // IPv4. M[L3] = the packet steered by: the frame's own, or the datagram an
    // ICMP error quotes (M[QUOTED] = 1), whose fixed header the length check
    // below promises. A = its address to test against the NAT reals.
    a.bind(IP4);
    avail();
    a.jmp(JGE, 20, undefined, W0);
    a.op(STX, M_L3);
    a.op(LD | IMM, 0);
    a.op(ST, M_QUOTED);
    const OWN4 = a.label(), BACK4 = a.label(), ERR4 = a.label(), TEST4 = a.label();
    a.op(LD | B | IND, 9);
    a.jmp(JEQ, 1, undefined, OWN4);
    a.op(LD | H | IND, 6);
    a.jmp(JSET, 0x3fff, OWN4); // a fragment's ICMP header may be elsewhere; all of them go by address
    skipIp4Header(a); // X = the ICMP header
    a.op(LD | W | LEN);
    a.op(ALU | SUB | K, 8 + 20);
    a.jmp(JGE | X, 0, undefined, BACK4); // room for the ICMP header and a quoted IPv4 header
    a.op(LD | B | IND, 0);
    a.jmp(JGT, 12, BACK4); // errors: 3, 4, 5, 11, 12
    a.jmp(JGE, 11, ERR4);
    a.jmp(JGT, 5, BACK4);
    a.jmp(JGE, 3, ERR4, BACK4);
    a.bind(ERR4);
    enterQuote(a, 8, 4, BACK4);
    a.op(LD | W | IND, 16); // the quoted destination
    a.ja(TEST4);
    a.bind(BACK4); // the frame's own after all: X back to its L3
    a.op(LDX | W | MEM, M_L3);
    a.bind(OWN4);
    a.op(LD | W | IND, 12); // the source

    // X = M[L3] from IN4 / OUT4 on (the search may take it for a bitmap's bit). M[ADDR] = client address, M[POFF] = its port's offset in L4 (0 src, 2 dst).
    a.bind(TEST4);
    const IN4 = a.label(), OUT4 = a.label(), SRC4 = a.label(), DST4 = a.label(), PROTO4 = a.label();
    const it4 = items4(r.v4), bitmaps = it4.some((x) => x.mask !== undefined);
    if (bitmaps) { // X = 1 << (A & 31) for the bitmap leaves (X back to M[L3] at IN4 / OUT4)
      a.op(ST, M_TMP);
      a.op(ALU | AND | K, 31);
      a.op(MISC | TAX);
      a.op(LD | IMM, 1);
      a.op(ALU | LSH | X);
      a.op(MISC | TAX);
      a.op(LD | MEM, M_TMP);
    }
    if (it4.length) tree(a, it4, 0, it4.length - 1, 0, 0xffffffff, IN4, OUT4);
    a.bind(OUT4);
    if (bitmaps) a.op(LDX | W | MEM, M_L3);
    ownOrQuoted(a, SRC4, DST4);
    if (it4.length) {
      a.bind(IN4);
      if (bitmaps) a.op(LDX | W | MEM, M_L3);
      ownOrQuoted(a, DST4, SRC4);
    }
    a.bind(DST4);
    a.op(LD | W | IND, 16);
    a.op(ST, M_ADDR);
    if (byAddressOnly) a.ja(NOPORT);
    else { a.op(LD | IMM, 2); a.op(ST, M_POFF); a.ja(PROTO4); }
    a.bind(SRC4);
    a.op(LD | W | IND, 12);
    a.op(ST, M_ADDR);
    if (byAddressOnly) a.ja(NOPORT);
    else {
      a.op(LD | IMM, 0);
      a.op(ST, M_POFF);
      a.bind(PROTO4);
      const P4 = a.label();
      a.op(LD | B | IND, 9);
      a.jmp(JEQ, 6, P4);
      a.jmp(JEQ, 17, undefined, NOPORT);
      a.bind(P4);
      a.op(LD | H | IND, 6);
      a.jmp(JSET, 0x3fff, NOPORT); // a fragment (MF or an offset): all of a datagram's fragments meet on one worker
      skipIp4Header(a);
      a.ja(PORTS);
    }

    // ICMPv6 (A = type, X = L3, len >= L3 + 41): errors 1..4 go by the quoted
    // packet when its IPv6 header is all there.
    a.bind(ICMP6);
    a.jmp(JGT, 4, IP6OWN);
    a.jmp(JGE, 1, undefined, IP6OWN);
    avail();
    a.jmp(JGE, 48 + 40, undefined, IP6OWN);
    enterQuote(a, 48, 6, IP6OWN);
    addX(a, 16); // the quoted destination at [X + 8]
    const TEST6 = a.label();
    a.ja(TEST6);

    // IPv6 other than NDP (len >= L3 + 40 checked above); M[L3], M[QUOTED] as for
    // IPv4, and the address to test at [X + 8].
    a.bind(IP6OWN);
    a.op(STX, M_L3);
    a.op(LD | IMM, 0);
    a.op(ST, M_QUOTED);
    // NAT reals by a chain of 4-word compares.
    a.bind(TEST6);
    const IN6 = a.label(), OUT6 = a.label(), SRC6 = a.label(), DST6 = a.label(), FOLD = a.label();
    for (const w of r.v6) {
      const next = a.label();
      for (let j = 3; j >= 0; j--) { // low word first: it differs soonest
        a.op(LD | W | IND, 8 + 4 * j);
        a.jmp(JEQ, w[j], j ? undefined : IN6, next);
      }
      a.bind(next);
    }
    a.bind(OUT6);
    ownOrQuoted(a, SRC6, DST6);
    if (r.v6.length) {
      a.bind(IN6);
      ownOrQuoted(a, DST6, SRC6);
    }
    // Fold the client address at [X + 8]: X = M[L3] (source) or M[L3] + 16 (destination).
    a.bind(DST6);
    a.op(LDX | W | MEM, M_L3);
    addX(a, 16);
    if (!byAddressOnly) { a.op(LD | IMM, 2); a.op(ST, M_POFF); }
    a.ja(FOLD);
    a.bind(SRC6);
    a.op(LDX | W | MEM, M_L3);
    if (!byAddressOnly) { a.op(LD | IMM, 0); a.op(ST, M_POFF); }
    a.bind(FOLD);
    a.op(STX, M_BASE);
    a.op(LD | W | IND, 8);
    for (let j = 1; j < 4; j++) {
      a.op(ALU | MUL | K, K1);
      a.op(ST, M_H);
      if (j > 1) a.op(LDX | W | MEM, M_BASE);
      a.op(LD | W | IND, 8 + 4 * j);
      a.op(LDX | W | MEM, M_H);
      a.op(ALU | XOR | X);
    }
    a.op(ST, M_ADDR);
    if (byAddressOnly) a.ja(NOPORT);
    else {
      const P6 = a.label(), SHORT = a.label();
      a.op(LDX | W | MEM, M_L3);
      a.op(LD | B | IND, 6);
      a.jmp(JEQ, 6, P6);
      a.jmp(JEQ, 17, undefined, NOPORT);
      a.bind(P6);
      addX(a, 40);

      // X = L4 offset: both ports must be there, then M[PORT] = the client's.
      a.bind(PORTS);
      a.op(LD | W | LEN);
      a.op(ALU | SUB | K, 4);
      a.jmp(JGE | X, 0, undefined, SHORT);
      a.op(LD | MEM, M_POFF);
      a.op(ALU | ADD | X);
      a.op(MISC | TAX);
      a.op(LD | H | IND, 0);
      a.op(ST, M_PORT);
      a.ja(HASH);
      // Cut before the ports: a frame of its own is truncated (worker 0), a quote cut short goes by its address.
      a.bind(SHORT);
      a.op(LD | MEM, M_QUOTED);
      a.jmp(JEQ, 0, W0);
    }
    a.bind(NOPORT);
    a.op(LD | IMM, 0);
    a.op(ST, M_PORT);

    a.bind(HASH);
    a.op(LD | MEM, M_ADDR);
    a.op(ALU | MUL | K, K1);
    xorShift(a, 15);
    a.op(ST, M_H);
    a.op(LD | MEM, M_PORT);
    a.op(ALU | MUL | K, K2);
    a.op(LDX | W | MEM, M_H);
    a.op(ALU | XOR | X);
    xorShift(a, 13);
    a.op(ALU | MUL | K, K3);
    xorShift(a, 16);
    a.op(ALU | MOD | K, workers);
    a.jmp(JEQ, member, ACCEPT, DROP);
  }
  a.bind(ACCEPT);
  a.op(RET | K, 0xffffffff);
  a.bind(DROP);
  a.op(RET | K, 0);

  const tooLarge = (n: number) => new WeirError("WEIR_ERR_STEER_TOO_LARGE",
    `the steering filter for ${r.count} NAT real-server addresses (${r.v4.length} IPv4 in ${new Set(r.v4.map((v) => v >>> 8)).size} /24 networks, `
    + `${r.v6.length} IPv6) needs ${n} instructions, more than ${MAX_INSNS}: isolated IPv4 addresses cost about 1.5 each, `
    + `pools filling their /24 networks far less`);
  // Laying out only adds jumps: give up early on a hopeless size.
  if (a.code.length > MAX_INSNS) throw tooLarge(a.code.length);
  const code = layout(a.code);
  if (code.length > MAX_INSNS) throw tooLarge(code.length);
  return encode(code);
}

/** A ^= A >>> n (clobbers X). */
function xorShift(a: Asm, n: number): void {
  a.op(MISC | TAX);
  a.op(ALU | RSH | K, n);
  a.op(ALU | XOR | X);
}

/** X += k (clobbers A). */
function addX(a: Asm, k: number): void {
  a.op(MISC | TXA);
  a.op(ALU | ADD | K, k);
  a.op(MISC | TAX);
}

/**
 * An ICMP error's quoted packet at [X + at] becomes the one steered by, when
 * it is of IP version `version` (else on to `notQuote`): X and M[L3] at its
 * header, M[QUOTED] = 1 (clobbers A).
 */
function enterQuote(a: Asm, at: number, version: 4 | 6, notQuote: Label): void {
  a.op(LD | B | IND, at);
  a.op(ALU | AND | K, 0xf0);
  a.jmp(JEQ, version << 4, undefined, notQuote);
  addX(a, at);
  a.op(STX, M_L3);
  a.op(LD | IMM, 1);
  a.op(ST, M_QUOTED);
}

/** X += 4 * the IHL of the IPv4 header at X (clobbers A; BPF_MSH only takes an absolute offset). */
function skipIp4Header(a: Asm): void {
  a.op(LD | B | IND, 0);
  a.op(ALU | AND | K, 0xf);
  a.op(ALU | LSH | K, 2);
  a.op(ALU | ADD | X);
  a.op(MISC | TAX);
}

/**
 * After the NAT-real test, on to `own` when the packet steered by is the
 * frame's own, `quoted` when an ICMP error quotes it (clobbers A). In the
 * reals, an own packet (tested by its source) is a reply: client = destination;
 * a quoted one (tested by its destination) was forwarded to the real server:
 * client = source. Not in them, the reverse.
 */
function ownOrQuoted(a: Asm, own: Label, quoted: Label): void {
  a.op(LD | MEM, M_QUOTED);
  a.jmp(JEQ, 0, own, quoted);
}

/**
 * The IPv4 NAT reals as search items, in address order: ranges of consecutive
 * addresses, and bitmaps of 32-aligned blocks holding 3 or more such ranges
 * (`mask` bit i = block start + i is a real).
 */
interface Item4 { lo: number; hi: number; mask?: number }

function items4(v: number[]): Item4[] {
  const out: Item4[] = [];
  const range = (lo: number, hi: number) => {
    const prev = out[out.length - 1];
    if (prev && prev.mask === undefined && prev.hi + 1 === lo) prev.hi = hi;
    else out.push({ lo, hi });
  };
  for (let i = 0; i < v.length;) {
    const base = (v[i] & ~31) >>> 0;
    let mask = 0;
    for (; i < v.length && v[i] - base < 32; i++) mask |= 1 << (v[i] - base);
    mask >>>= 0;
    const runs = bitRuns(mask);
    if (runs.length >= 3) out.push({ lo: base, hi: base + 31, mask });
    else for (const [f, t] of runs) range(base + f, base + t);
  }
  return out;
}

/** The runs of set bits of a 32-bit mask, as [first, last] bit indexes. */
function bitRuns(mask: number): [number, number][] {
  const runs: [number, number][] = [];
  for (let b = 0; b < 32;) {
    if (!((mask >>> b) & 1)) { b++; continue; }
    const f = b;
    while (b < 32 && (mask >>> b) & 1) b++;
    runs.push([f, b - 1]);
  }
  return runs;
}

/**
 * Search of A among it[i..j], knowing that L <= A <= H and that the reals in
 * [L, H] are exactly those of it[i..j]. A range is a three-way node (jge lo,
 * jgt hi: about 1.5 instructions per range over the tree); a bitmap block
 * splits the search after it (jgt) and, as a leaf, tests its bit of X = 1 << (A & 31)
 * (ld #mask, jset x) once the bounds not already known are checked.
 */
function tree(a: Asm, it: Item4[], i: number, j: number, L: number, H: number, IN: Label, OUT: Label): void {
  const m = (i + j) >> 1, { lo, hi, mask } = it[m];
  if (mask !== undefined) {
    if (i === j) {
      if (L < lo) a.jmp(JGE, lo, undefined, OUT);
      if (H > hi) a.jmp(JGT, hi, OUT);
      a.op(LD | IMM, mask);
      return a.jmp(JSET | X, 0, IN, OUT);
    }
    const R = a.label();
    a.jmp(JGT, hi, R);
    tree(a, it, i, m, L, hi, IN, OUT);
    a.bind(R);
    return tree(a, it, m + 1, j, hi + 1, H, IN, OUT);
  }
  const left = i < m, right = m < j;
  const LEFT = left ? a.label() : OUT, RIGHT = right ? a.label() : OUT;
  const below = L < lo, above = H > hi; // A may be below lo / above hi
  if (below && above && lo === hi && !left && !right) a.jmp(JEQ, lo, IN, OUT);
  else if (below && above) { a.jmp(JGE, lo, undefined, LEFT); a.jmp(JGT, hi, RIGHT, IN); }
  else if (below) a.jmp(JGE, lo, IN, LEFT);
  else if (above) a.jmp(JGT, hi, RIGHT, IN);
  else a.ja(IN);
  if (left) { a.bind(LEFT); tree(a, it, i, m - 1, L, lo - 1, IN, OUT); }
  if (right) { a.bind(RIGHT); tree(a, it, m + 1, j, hi + 1, H, IN, OUT); }
}
