// The cBPF assembler (src/dataplane/steer/cbpf.ts) on its own: what it
// encodes is what the kernel would take (checked and run by the interpreter
// in test/helpers/cbpf.ts), omitted jump targets fall through, and jumps
// farther than a conditional jump reaches go through `ja` trampolines that
// jumps to the same place share. The steering program built with it is
// tested against its model in steer.test.ts.

import { describe, it, expect } from "vitest";
import { checkProgram, decodeProgram, runProgram, type Insn } from "../helpers/cbpf.js";
import { Asm, encode, layout, ALU, ADD, IMM, JA, JEQ, JGT, JMP, K, LD, LEN, RET, W } from "../../src/dataplane/steer/cbpf.js";

/** The program laid out, encoded, decoded again and checked as the kernel would check it. */
function build(a: Asm): Insn[] {
  const prog = decodeProgram(encode(layout(a.code)));
  checkProgram(prog);
  return prog;
}
/** What the program returns for a packet of len bytes. */
const ret = (prog: Insn[], len: number) => runProgram(prog, new Uint8Array(len));

describe("cBPF assembler", () => {
  it("encodes instructions, labels and both jump targets", () => {
    const a = new Asm();
    const YES = a.label(), NO = a.label();
    a.op(LD | W | LEN);
    a.jmp(JGT, 3, YES, NO);
    a.bind(YES);
    a.op(RET | K, 1);
    a.bind(NO);
    a.op(RET | K, 2);
    const prog = build(a);
    expect(prog).toEqual([
      { code: LD | W | LEN, jt: 0, jf: 0, k: 0 },
      { code: JMP | JGT | K, jt: 0, jf: 1, k: 3 },
      { code: RET | K, jt: 0, jf: 0, k: 1 },
      { code: RET | K, jt: 0, jf: 0, k: 2 },
    ]);
    expect(ret(prog, 4)).toBe(1);
    expect(ret(prog, 3)).toBe(2);
  });

  it("an omitted target is the next instruction; two labels may name one place", () => {
    const a = new Asm();
    const A1 = a.label(), A2 = a.label();
    a.op(LD | W | LEN);
    a.jmp(JEQ, 0, A1); // false: falls through
    a.jmp(JEQ, 1, undefined, A2); // true: falls through
    a.op(RET | K, 7);
    a.bind(A1);
    a.bind(A2);
    a.op(RET | K, 9);
    const prog = build(a);
    expect(prog.length).toBe(5);
    expect(ret(prog, 0)).toBe(9);
    expect(ret(prog, 1)).toBe(7);
    expect(ret(prog, 2)).toBe(9);
  });

  it("far jumps go through trampolines, shared by jumps to the same place", () => {
    // 40 tests of the length, each jumping to FAR (past 2,000 filler
    // instructions) when it matches, else falling through to the next.
    const a = new Asm();
    const FAR = a.label(), END = a.label();
    a.op(LD | W | LEN);
    for (let n = 0; n < 40; n++) a.jmp(JEQ, n, FAR);
    a.op(LD | IMM, 0);
    for (let i = 0; i < 2000; i++) a.op(ALU | ADD | K, 1);
    a.ja(END);
    a.bind(FAR);
    a.op(RET | K, 0xffff);
    a.bind(END);
    a.op(RET | 0x10); // RET A
    const plain = a.code.length;
    const prog = build(a);
    const tramps = prog.filter((i) => i.code === (JMP | JA)).length - 1; // the program's own ja
    expect(tramps).toBeGreaterThan(0);
    expect(tramps).toBeLessThan(10);
    expect(prog.length).toBe(plain + tramps);
    for (const len of [0, 1, 20, 39]) expect(ret(prog, len), `len ${len}`).toBe(0xffff);
    expect(ret(prog, 40)).toBe(2000);
  });
});
