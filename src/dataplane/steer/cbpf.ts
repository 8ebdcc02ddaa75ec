// A small assembler for classic BPF socket filters (the sock_filter[] that
// SO_ATTACH_FILTER takes): instructions with symbolic labels, laid out so
// that every conditional jump reaches its target (routing far ones through
// `ja` trampolines), and encoded 8 bytes per instruction. It knows nothing of
// what a program does; the steering program (program.ts) is its user.

/** BPF_MAXINSNS: the most instructions the kernel takes in a socket filter. */
export const MAX_INSNS = 4096;

// Opcodes (linux/bpf_common.h, linux/filter.h).
export const LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, RET = 0x06, MISC = 0x07;
export const W = 0x00, H = 0x08, B = 0x10;
export const IMM = 0x00, ABS = 0x20, IND = 0x40, MEM = 0x60, LEN = 0x80;
export const ADD = 0x00, SUB = 0x10, MUL = 0x20, AND = 0x50, LSH = 0x60, RSH = 0x70, MOD = 0x90, XOR = 0xa0;
export const JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40;
export const K = 0x00, X = 0x08;
export const TAX = 0x00, TXA = 0x80;

/** A place in the program: bound to the instruction that follows bind(). */
export interface Label { at?: Insn }
/** One instruction; jumps name their targets by label until encode(). */
export interface Insn { code: number; k: number; jt?: Label; jf?: Label; to?: Label }

/** Builds a program: op() for plain instructions, ja()/jmp() for jumps to labels. */
export class Asm {
  readonly code: Insn[] = [];
  private pending: Label[] = [];

  label(): Label { return {}; }
  bind(l: Label): void { this.pending.push(l); }

  op(code: number, k = 0): void { this.push({ code, k }); }
  ja(to: Label): void { this.push({ code: JMP | JA, k: 0, to }); }
  /** Conditional jump; an omitted target is the next instruction. */
  jmp(code: number, k: number, jt?: Label, jf?: Label): void {
    const next = this.label();
    this.push({ code: JMP | code | K, k: k >>> 0, jt: jt ?? next, jf: jf ?? next });
    if (!jt || !jf) this.bind(next);
  }

  private push(i: Insn): void {
    for (const l of this.pending) l.at = i;
    this.pending = [];
    this.code.push(i);
  }
}

const isCond = (i: Insn) => (i.code & 0x07) === JMP && (i.code & 0xf0) !== JA;
const fallsThrough = (i: Insn) => (i.code & 0x07) !== JMP && (i.code & 0x07) !== RET;

/** Where a jump really lands: through any chain of `ja`s. */
function final(i: Insn): Insn {
  while (i.code === (JMP | JA)) i = i.to!.at!;
  return i;
}

/**
 * Lays the program out: a conditional jump reaches 255 instructions ahead, so a
 * farther target goes through a `ja` (32-bit offset). One already in reach is
 * reused; otherwise a new one goes as far ahead as possible (after an
 * instruction that never falls through), where the jumps that follow can share it.
 * Inserting moves code, so repeat until every jump reaches.
 */
export function layout(code: Insn[]): Insn[] {
  for (;;) {
    const pos = new Map(code.map((x, i) => [x, i]));
    let inserted = false;
    for (let i = 0; i < code.length && !inserted; i++) {
      const x = code[i];
      if (!isCond(x)) continue;
      for (const side of ["jt", "jf"] as const) {
        if (pos.get(x[side]!.at!)! - i - 1 <= 255) continue;
        const dest = final(x[side]!.at!);
        let tramp = code.slice(i + 1, i + 257).find((y) => y.code === (JMP | JA) && final(y) === dest);
        if (!tramp) {
          let p = Math.min(i + 255, code.length); // not i + 256: its other side's may go in the same place, pushing this one on
          while (fallsThrough(code[p - 1])) p--;
          tramp = { code: JMP | JA, k: 0, to: { at: dest } };
          code.splice(p, 0, tramp);
          inserted = true;
        }
        x[side] = { at: tramp };
        if (inserted) break;
      }
    }
    if (!inserted) return code;
  }
}

/** The sock_filter[] bytes (8 per instruction, little-endian) of a laid-out program. */
export function encode(code: Insn[]): Uint8Array {
  const pos = new Map(code.map((x, i) => [x, i]));
  const out = new Uint8Array(code.length * 8);
  const dv = new DataView(out.buffer);
  code.forEach((x, i) => {
    const rel = (l?: Label) => {
      const d = l ? pos.get(l.at!)! - i - 1 : 0;
      if (d < 0 || (isCond(x) && d > 255)) throw new Error(`cbpf: bad jump at ${i}`); // a layout bug, never input
      return d;
    };
    dv.setUint16(i * 8, x.code, true);
    if (isCond(x)) {
      dv.setUint8(i * 8 + 2, rel(x.jt));
      dv.setUint8(i * 8 + 3, rel(x.jf));
    }
    dv.setUint32(i * 8 + 4, x.to ? rel(x.to) : x.k, true);
  });
  return out;
}
