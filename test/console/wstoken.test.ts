// `ws-token show`: the token for the serial console and the control socket, nobody else.
import { describe, expect, it } from "vitest";
import { wsToken } from "../../src/console/wstoken.js";

describe("ws-token", () => {
  it("shows the token on the serial console and the control socket only", async () => {
    const w = wsToken(() => "tok-123");
    expect(await w.execute(["show"], { source: "serial" })).toEqual({ ok: true, text: "tok-123" });
    expect(await w.execute(["show"], { source: "socket" })).toEqual({ ok: true, text: "tok-123" });
    expect((await w.execute(["show"], { source: "ws" })).text).toMatch(/^error: .*serial console and the control socket only/);
    expect((await w.execute(["show"], { source: "config" })).ok).toBe(false);
    expect((await w.execute([], { source: "serial" })).text).toBe("error: usage: ws-token show");
    expect((await wsToken(() => undefined).execute(["show"], { source: "serial" })).text).toBe("error: no WebSocket console is running");
  });
});
