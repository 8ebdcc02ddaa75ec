// keys.ts: one canonical text per kind of key, however the key was written or
// whichever layer made it, and the one host:port parser.

import { describe, expect, it } from "vitest";
import { destId, parseHostPort, parseSvcKey, serviceId, splitHostPort, svcKeyOption, svcKeyText, toDpKey, type SvcKey } from "../../src/keys.js";
import { destId as replicaDestId, serviceId as replicaServiceId } from "../../src/dataplane/replica/ops.js";
import { KeyError } from "../../src/errors.js";

const KEYS: [SvcKey, string, string, string][] = [
  [{ kind: "tcp", af: 4, addr: "198.18.100.1", port: 80 }, "tcp:198.18.100.1:80", "TCP 198.18.100.1:80", "-t 198.18.100.1:80"],
  [{ kind: "udp", af: 6, addr: "2001:db8::1", port: 53 }, "udp:[2001:db8::1]:53", "UDP [2001:db8::1]:53", "-u [2001:db8::1]:53"],
  [{ kind: "fwmark", af: 4, mark: 7 }, "fwm:7", "FWM 7", "-f 7"],
  [{ kind: "fwmark", af: 6, mark: 7 }, "fwm6:7", "FWM 7 IPv6", "-f 7 -6"],
];

describe("service keys", () => {
  it.each(KEYS)("%o: one id from the configuration's key, the data plane's key and the replicas'; each spelling reads back", (k, id, text, option) => {
    expect(serviceId(k)).toBe(id);
    expect(serviceId(toDpKey(k))).toBe(id);
    expect(replicaServiceId(toDpKey(k))).toBe(id);
    expect(svcKeyText(k)).toBe(text);
    expect(svcKeyOption(k)).toBe(option);
    expect(svcKeyOption(id)).toBe(option);
    for (const s of [id, text, option]) expect(parseSvcKey(s)).toEqual(k);
  });

  it("a data-plane key without a family is IPv4's; the replicas' ids hold the canonical address", () => {
    expect(serviceId({ fwmark: 9 })).toBe("fwm:9");
    expect(replicaServiceId({ proto: "tcp", addr: "2001:DB8:0::1", port: 80 })).toBe("tcp:[2001:db8::1]:80");
    expect(() => parseSvcKey("sctp:1.2.3.4:80")).toThrow(KeyError);
  });
});

describe("real-server keys", () => {
  it("one id, with or without a port, from either layer", () => {
    expect(destId({ addr: "198.19.0.11", port: 80 })).toBe("198.19.0.11:80");
    expect(destId({ addr: "198.19.0.11" })).toBe("198.19.0.11:0");
    expect(destId({ addr: "2001:db8::11", port: 443 })).toBe("[2001:db8::11]:443");
    expect(replicaDestId({ addr: "2001:db8:0:0::11", port: 443 })).toBe("[2001:db8::11]:443");
  });
});

describe("host:port", () => {
  it("splits at the port's colon, IPv6 in brackets", () => {
    expect(splitHostPort("198.19.0.11:80")).toEqual({ host: "198.19.0.11", port: "80" });
    expect(splitHostPort("[2001:db8::1]:80")).toEqual({ host: "2001:db8::1", port: "80" });
    expect(splitHostPort("[2001:db8::1]")).toEqual({ host: "2001:db8::1" });
    expect(splitHostPort("2001:db8::1")).toEqual({ host: "2001:db8::1" });
    expect(splitHostPort(":9000")).toEqual({ host: "", port: "9000" });
    for (const bad of ["[::1", "[::1]x", "[::1]x:80"]) expect(splitHostPort(bad)).toBeNull();
  });

  it("ports by name only where asked (ipvsadm's words), as that protocol names them", () => {
    expect(parseHostPort("198.19.0.11:http", "tcp")).toEqual({ af: 4, addr: "198.19.0.11", port: 80 });
    expect(parseHostPort("[2001:DB8::1]:domain", "udp")).toEqual({ af: 6, addr: "2001:db8::1", port: 53 });
    expect(parseHostPort("198.19.0.11")).toEqual({ af: 4, addr: "198.19.0.11", port: null });
    expect(() => parseHostPort("198.19.0.11:http")).toThrow("invalid port 'http' in '198.19.0.11:http'");
    expect(() => parseHostPort("198.19.0.11:syslog", "tcp")).toThrow("unknown tcp port name 'syslog' in '198.19.0.11:syslog'");
    expect(() => parseHostPort("lb.example:80", "tcp")).toThrow("host name 'lb.example' in 'lb.example:80' is not looked up here: give its address");
    expect(() => parseHostPort("lb.example:80")).toThrow("invalid address 'lb.example' in 'lb.example:80'");
  });
});
