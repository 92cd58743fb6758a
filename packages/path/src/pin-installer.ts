import type { ForwardingPin } from "@lvsq/config";
import { type IpvsDriver, plan } from "@lvsq/ipvs";
import { execa } from "execa";
import { nftRemoveScript, nftScript, pinKeys, pinTable } from "./pins.js";

/** Runs an nft script (`nft -f -`); rejects with nft's own message. */
export type NftRunner = (script: string) => Promise<void>;

/** The real nft (LVSQ_NFT or `nft` from PATH), bounded to 10 s. */
export function createNftRunner(program = process.env.LVSQ_NFT ?? "nft"): NftRunner {
  return async (script) => {
    const result = await execa(program, ["-f", "-"], { input: script, timeout: 10_000, reject: false });
    if (result.failed) {
      const missing = result.code === "ENOENT";
      throw new Error(
        missing
          ? `${program} not found: checks through the forwarding path need nftables (apt-get install nftables)`
          : `${program} -f - failed: ${(String(result.stderr ?? "") || result.shortMessage || "").trim()}`,
      );
    }
  };
}

/**
 * Puts the pins into the kernel and keeps them there: the hidden fwmark services through the ipvs
 * driver (only their own keys: the director's services are never read into the plan), the marking
 * rules through nft. New pins go in before the rules that use them and old ones leave after, so a marked
 * connection always finds its fwmark service (one that finds none would go where the VIP's scheduler
 * sends it, and its result would be counted for the wrong server).
 */
export class PinInstaller {
  #installed = new Set<string>();

  constructor(
    private readonly driver: IpvsDriver,
    private readonly nft: NftRunner,
    private readonly table: string,
  ) {}

  /** Installs `pins` (again): returns the kernel writes it took, 0 when everything was in place. */
  async install(source: string, pins: readonly ForwardingPin[]): Promise<number> {
    const wanted = pinKeys(pins);
    const desired = pinTable(pins);
    const writes = plan(desired, await this.driver.read(), wanted);
    if (writes.length > 0) await this.driver.apply(writes);
    await this.nft(nftScript(this.table, source, pins));
    // The whole table is read (the director's services too): a second read only when pins are to go.
    const stale = new Set([...this.#installed].filter((key) => !wanted.has(key)));
    const removals = stale.size > 0 ? plan(desired, await this.driver.read(), stale) : [];
    if (removals.length > 0) await this.driver.apply(removals);
    this.#installed = wanted;
    return writes.length + removals.length;
  }

  /** Takes the rules out, then the pins. */
  async remove(): Promise<void> {
    await this.nft(nftRemoveScript(this.table));
    const removals = plan({ services: [] }, await this.driver.read(), this.#installed);
    if (removals.length > 0) await this.driver.apply(removals);
    this.#installed = new Set();
  }
}
