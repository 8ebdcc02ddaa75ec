// A classic BPF (socket filter) checker and interpreter with the kernel's
// semantics, so steering programs can be tested without attaching them:
//   - checkProgram is net/core/filter.c bpf_check_classic + check_load_and_stores
//     (allowed opcodes, jumps in range, last instruction RET, no constant
//     division by zero or shift >= 32, scratch cells written before read on
//     every path);
//   - runProgram: u32 arithmetic, loads past the end of the packet and
//     division/modulo by X = 0 end the program with 0, jumps are relative to
//     the next instruction, shifts by X use the low 5 bits (as the kernel's
//     eBPF interpreter and JITs do).
// Ancillary loads (negative offsets, SKF_AD_*) are not supported: they throw.

export interface Insn { code: number; jt: number; jf: number; k: number }

const MAXINSNS = 4096, MEMWORDS = 16;

// Every opcode bpf_check_classic accepts (codes[] in net/core/filter.c).
const ALLOWED = new Set<number>([
  // ALU: ADD SUB MUL DIV MOD AND OR XOR LSH RSH, K and X; NEG
  ...[0x00, 0x10, 0x20, 0x30, 0x90, 0x50, 0x40, 0xa0, 0x60, 0x70].flatMap((op) => [0x04 | op, 0x04 | op | 0x08]),
  0x84,
  // LD W/H/B ABS and IND, LD W LEN, LD IMM, LD MEM
  0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x80, 0x00, 0x60,
  // LDX IMM, LEN, MEM, B MSH
  0x01, 0x81, 0x61, 0xb1,
  // ST, STX, TAX, TXA, RET K, RET A
  0x02, 0x03, 0x07, 0x87, 0x06, 0x16,
  // JA; JEQ JGT JGE JSET, K and X
  0x05, ...[0x10, 0x20, 0x30, 0x40].flatMap((op) => [0x05 | op, 0x05 | op | 0x08]),
]);

export function decodeProgram(bytes: Uint8Array): Insn[] {
  if (bytes.length % 8) throw new Error(`program length ${bytes.length} is not a multiple of 8`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 8 }, (_, i) => ({
    code: dv.getUint16(i * 8, true), jt: dv.getUint8(i * 8 + 2), jf: dv.getUint8(i * 8 + 3), k: dv.getUint32(i * 8 + 4, true),
  }));
}

const isCondJump = (code: number) => (code & 0x07) === 0x05 && (code & 0xf0) !== 0x00;

/** Throws what the kernel would refuse with EINVAL. */
export function checkProgram(prog: Insn[]): void {
  const n = prog.length;
  if (n === 0 || n > MAXINSNS) throw new Error(`program length ${n} not in 1..${MAXINSNS}`);
  prog.forEach(({ code, jt, jf, k }, pc) => {
    const bad = (why: string) => new Error(`insn ${pc} (code 0x${code.toString(16)}): ${why}`);
    if (!ALLOWED.has(code)) throw bad("opcode not allowed");
    if ((code === 0x34 || code === 0x94) && k === 0) throw bad("division by constant 0");
    if ((code === 0x64 || code === 0x74) && k >= 32) throw bad("shift >= 32");
    if ([0x60, 0x61, 0x02, 0x03].includes(code) && k >= MEMWORDS) throw bad("scratch cell out of range");
    if (code === 0x05 && k >= n - pc - 1) throw bad("ja out of range");
    if (isCondJump(code) && (pc + jt + 1 >= n || pc + jf + 1 >= n)) throw bad("jump out of range");
    if ((code & 0xe7) === 0x20 && k >= 0x80000000) throw bad("ancillary loads are not supported here");
  });
  if (prog[n - 1].code !== 0x06 && prog[n - 1].code !== 0x16) throw new Error("last instruction is not RET");
  // check_load_and_stores: forward dataflow of the cells written on every path.
  const masks = new Array<number>(n).fill(0xffff);
  let valid = 0;
  prog.forEach(({ code, jt, jf, k }, pc) => {
    valid &= masks[pc];
    if (code === 0x02 || code === 0x03) valid |= 1 << k;
    else if ((code === 0x60 || code === 0x61) && !(valid & (1 << k))) throw new Error(`insn ${pc}: M[${k}] may be read before written`);
    else if (code === 0x05) {
      masks[pc + 1 + k] &= valid;
      valid = 0xffff;
    } else if (isCondJump(code)) {
      masks[pc + 1 + jt] &= valid;
      masks[pc + 1 + jf] &= valid;
      valid = 0xffff;
    }
  });
}

export interface RunResult { ret: number; steps: number }

/** Runs a program over a packet; returns what it returns (0 drops, else bytes to keep). */
export function runProgram(prog: Insn[], pkt: Uint8Array): number {
  return runTraced(prog, pkt).ret;
}

export function runTraced(prog: Insn[], pkt: Uint8Array): RunResult {
  let A = 0, X = 0, pc = 0, steps = 0;
  const M = new Uint32Array(MEMWORDS);
  const len = pkt.length;
  const load = (off: number, size: number): number | undefined => {
    if (off >= 0x80000000) throw new Error(`ancillary/negative load offset 0x${off.toString(16)} not supported`);
    if (off + size > len) return undefined;
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + pkt[off + i];
    return v;
  };
  for (;;) {
    if (pc >= prog.length) throw new Error(`ran off the end at ${pc}`);
    const { code, jt, jf, k } = prog[pc++];
    steps++;
    const cls = code & 0x07;
    const src = code & 0x08 ? X : k;
    switch (cls) {
      case 0x00: // LD
      case 0x01: { // LDX
        const mode = code & 0xe0, size = [4, 2, 1][(code >> 3) & 3];
        let v: number | undefined;
        if (mode === 0x00) v = k;
        else if (mode === 0x80) v = len;
        else if (mode === 0x60) v = M[k];
        else if (mode === 0x20) v = load(k, size);
        else if (mode === 0x40) v = load((X + k) >>> 0, size);
        else if (mode === 0xa0) { const b = load(k, 1); v = b === undefined ? undefined : (b & 0xf) * 4; }
        else throw new Error(`bad load 0x${code.toString(16)}`);
        if (v === undefined) return { ret: 0, steps };
        if (cls === 0x00) A = v >>> 0; else X = v >>> 0;
        break;
      }
      case 0x02: M[k] = A; break;
      case 0x03: M[k] = X; break;
      case 0x04: { // ALU
        const op = code & 0xf0;
        if ((op === 0x30 || op === 0x90) && src === 0) return { ret: 0, steps };
        switch (op) {
          case 0x00: A = (A + src) >>> 0; break;
          case 0x10: A = (A - src) >>> 0; break;
          case 0x20: A = Math.imul(A, src) >>> 0; break;
          case 0x30: A = Math.floor(A / src) >>> 0; break;
          case 0x40: A = (A | src) >>> 0; break;
          case 0x50: A = (A & src) >>> 0; break;
          case 0x60: A = (A << (src & 31)) >>> 0; break;
          case 0x70: A = A >>> (src & 31); break;
          case 0x80: A = -A >>> 0; break;
          case 0x90: A = A % src; break;
          case 0xa0: A = (A ^ src) >>> 0; break;
          default: throw new Error(`bad ALU op 0x${code.toString(16)}`);
        }
        break;
      }
      case 0x05: { // JMP
        const op = code & 0xf0;
        if (op === 0x00) { pc += k; break; }
        const taken = op === 0x10 ? A === src : op === 0x20 ? A > src : op === 0x30 ? A >= src : op === 0x40 ? (A & src) !== 0 : undefined;
        if (taken === undefined) throw new Error(`bad jump 0x${code.toString(16)}`);
        pc += taken ? jt : jf;
        break;
      }
      case 0x06: return { ret: (code & 0x18) === 0x10 ? A : k, steps };
      case 0x07: if (code & 0x80) A = X; else X = A; break;
    }
  }
}
