// Console words of an appliance booted from an image:
//   image status                    both slots, versions, active, good, boot order, TLS fingerprint
//   image upgrade PATH [force]      install a signed bundle into the other slot and reboot
//   factory-reset confirm           clear the saved configuration and reboot
//   reboot
//   mgmt address ADDR/LEN | mgmt gateway ADDR | mgmt    the management NIC (kernel side)

import { parsePrefix } from "../config/addr.js";
import { parseIp } from "../keys.js";
import { WeirError } from "../errors.js";
import { run } from "./exec.js";
import type { CommandHandler } from "../console/registry.js";
import { err, ok } from "../console/types.js";
import { rebootSoon, type ApplianceImage } from "./appliance.js";

/** fingerprint: the console's TLS certificate (what `weir console --fingerprint` pins), when it has one. */
export function imageStatus(img: ApplianceImage, fingerprint: () => string | undefined = () => undefined): CommandHandler {
  return {
    help: "image status — both slots' versions, which is active, which is good, the boot order, the console's TLS fingerprint",
    async execute(args) {
      if (args.length) return err(`unexpected argument '${args[0]}'`);
      const fp = fingerprint();
      return ok(`${await img.status()}${fp ? `\nconsole TLS certificate SHA-256 fingerprint: ${fp}` : ""}`);
    },
  };
}

export function imageUpgrade(img: ApplianceImage, reboot = rebootSoon): CommandHandler {
  return {
    help: "image upgrade PATH [force] — check a signed bundle, write it to the other slot, boot it on trial (force: allow a downgrade)",
    async execute(args) {
      const [file, ...rest] = args;
      if (!file) return err("image upgrade needs the bundle's path");
      const force = rest.length === 1 && rest[0] === "force";
      if (rest.length && !force) return err(`unexpected argument '${rest[0]}' (only 'force')`);
      try {
        const r = await img.upgrade(file, force);
        reboot();
        return ok(`upgrade: ${r.version} written to slot ${r.slot}; rebooting into it on trial (it must pass its health check within 3 boots, else slot ${r.slot === "A" ? "B" : "A"} comes back)`);
      } catch (e) {
        if (e instanceof WeirError) return err(e.message);
        return err(`upgrade failed: ${(e as Error).message}`);
      }
    },
  };
}

export function factoryReset(img: ApplianceImage, reboot = rebootSoon): CommandHandler {
  return {
    help: "factory-reset confirm — erase the saved configuration (and the console token) and reboot",
    async execute(args) {
      if (args.length !== 1 || args[0] !== "confirm") return err("factory-reset erases the saved configuration and reboots: type 'factory-reset confirm'");
      await img.factoryReset();
      reboot();
      return ok("factory reset: the configuration is cleared at the next boot; rebooting");
    },
  };
}

export function rebootWord(reboot = rebootSoon): CommandHandler {
  return {
    help: "reboot — restart the appliance (unsaved configuration is lost)",
    async execute(args) {
      if (args.length) return err(`unexpected argument '${args[0]}'`);
      reboot();
      return ok("rebooting");
    },
  };
}

/** The management NIC's address and gateway: applied to the kernel's interface, kept in the running config. */
export function mgmt(dev: string, apply = (args: string[]) => run("ip", args).then(() => undefined)): CommandHandler {
  let address: string | undefined;
  let gateway: string | undefined;
  return {
    help: "mgmt address ADDR/LEN | mgmt gateway ADDR | mgmt — the management NIC (not the data plane's)",
    runningConfig: () => [...(address ? [`mgmt address ${address}`] : []), ...(gateway ? [`mgmt gateway ${gateway}`] : [])],
    async execute(args) {
      if (!args.length) return ok(`${dev}: address ${address ?? "none"}, gateway ${gateway ?? "none"}`);
      const [what, value, ...extra] = args;
      if (what !== "address" && what !== "gateway") return err(`mgmt knows 'address' and 'gateway', not '${what}'`);
      if (!value) return err(`mgmt ${what} needs a value`);
      if (extra.length) return err(`unexpected argument '${extra[0]}'`);
      try {
        if (what === "address") {
          if (!value.includes("/")) return err(`mgmt address wants ADDR/LEN, not '${value}'`);
          const p = parsePrefix(value);
          const text = `${p.addr}/${p.len}`;
          await apply(["addr", "flush", "dev", dev, "scope", "global"]);
          try {
            await apply(["addr", "add", text, "dev", dev]);
          } catch (e) {
            // Put the old address back rather than leave the NIC without one.
            if (address) await apply(["addr", "add", address, "dev", dev]).catch(() => undefined);
            throw e;
          }
          await apply(["link", "set", dev, "up"]);
          address = text;
          return ok();
        }
        const gw = parseIp(value).text;
        await apply(["route", "replace", "default", "via", gw, "dev", dev]);
        gateway = gw;
        return ok();
      } catch (e) {
        return err(`mgmt ${what} ${value}: ${(e as Error).message}`);
      }
    },
  };
}
