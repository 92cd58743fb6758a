import type { IpvsDriver } from "./driver.js";
import { createIpvsadmDriver } from "./ipvsadm-driver.js";
import { type NetlinkDriver, openNetlinkDriver } from "./netlink-driver.js";

export type KernelDriverName = "netlink" | "ipvsadm";

export type KernelDriverChoice = {
  driver: IpvsDriver;
  name: KernelDriverName;
  /** For the start-up log line: `IPVS 1.2.1 over generic netlink (connection table 4096)`. */
  detail: string;
  /** Set when no driver was configured and netlink could not open: why lvsq fell back to ipvsadm. */
  fallbackReason?: string;
  /** Closes the netlink socket (nothing for ipvsadm). */
  close(): void;
};

export type KernelDriverOptions = {
  /** config `director.driver` (env LVSQ_IPVS_DRIVER): undefined = netlink, falling back to ipvsadm. */
  driver?: KernelDriverName | undefined;
  /** ipvsadm program (config `director.ipvsadm`, env LVSQ_IPVSADM). */
  ipvsadm: string;
  timeoutMs?: number;
  /** Passed to the netlink driver (false: never run `modprobe ip_vs`, for --dry-run). */
  modprobe?: string | false;
  /** For tests: how to open the netlink driver. */
  openNetlink?: () => Promise<NetlinkDriver>;
};

/**
 * The kernel driver a director uses. `netlink` asked for and not available is an error (the caller exits);
 * nothing asked for means netlink where it opens (the kernel has IPVS and the socket library loads), else
 * ipvsadm with the reason, so a host where only ipvsadm works keeps working.
 */
export async function openKernelDriver(options: KernelDriverOptions): Promise<KernelDriverChoice> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const ipvsadm = (): KernelDriverChoice => ({
    driver: createIpvsadmDriver({ path: options.ipvsadm, timeoutMs }),
    name: "ipvsadm",
    detail: `${options.ipvsadm} (one process per apply)`,
    close: () => {},
  });
  if (options.driver === "ipvsadm") return ipvsadm();
  try {
    const netlink = await (
      options.openNetlink ??
      (() =>
        openNetlinkDriver({
          timeoutMs,
          ...(options.modprobe !== undefined ? { modprobe: options.modprobe } : {}),
        }))
    )();
    return {
      driver: netlink,
      name: "netlink",
      detail: `IPVS ${netlink.info.version} over generic netlink (connection table ${netlink.info.connTabSize})`,
      close: () => netlink.close(),
    };
  } catch (error) {
    if (options.driver === "netlink") throw error;
    return { ...ipvsadm(), fallbackReason: error instanceof Error ? error.message : String(error) };
  }
}
