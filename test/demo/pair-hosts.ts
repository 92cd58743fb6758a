// The two director hosts of the demo's pair `edge` (lvs-a holds the VIP, lvs-b is the standby): each with
// its namespace, its kernel IPVS table watched from /proc, and the `lvsq director` runs it has had (a kill
// and a restart make two; the logs of both stay readable).
import { type GuestProcess, lvsqInNetns } from "../harness/fleet-agents.js";
import { type watchBus, watchKernelTable } from "../harness/fleet-watch.js";
import { parkInNetns, tableText } from "../harness/topology.js";
import { runAsync } from "../harness/in-guest.js";

export type BusWatch = Awaited<ReturnType<typeof watchBus>>;

export type DirectorHost = ReturnType<typeof directorHost>;

export function directorHost(id: string, netns: string, vip: string, repo: string, config: string) {
  const park = parkInNetns(netns);
  const table = watchKernelTable(park.pid, vip, 80);
  const runs: GuestProcess[] = [];
  let startedAt = 0;
  const current = () => runs.at(-1);
  return {
    id,
    netns,
    table,
    runs,
    /** When the current run started (epoch ms). */
    startedAt: () => startedAt,
    running: () => current()?.running() ?? false,
    /** The kernel table as stable text ("rs=weight,..."), read now. */
    text: () => tableText(table.current()),
    start(): GuestProcess {
      startedAt = Date.now();
      const run = lvsqInNetns(id, netns, repo, ["director", "--config", config, "--id", id]);
      runs.push(run);
      return run;
    },
    /** SIGKILL: no clean stop, no lease release, no table change. Resolves with the moment of the kill. */
    async kill(): Promise<number> {
      const run = current();
      if (!run?.running()) throw new Error(`${id} is not running`);
      const at = Date.now();
      await run.stop("SIGKILL", 0);
      return at;
    },
    /** Every log line of every run, parsed. */
    logs: () => runs.flatMap((run) => run.logs()),
    ipvsadm: () =>
      runAsync(["ip", "netns", "exec", netns, "ipvsadm", "-L", "-n"]).catch(
        (e: Error) => `(ipvsadm failed: ${e.message})`,
      ),
    async stop(): Promise<void> {
      await current()
        ?.stop()
        .catch(() => {});
      table.stop();
      park.stop();
    },
  };
}

/** "leader, epoch 7" from the newest of: this run's last heartbeat, the last `leader-changed` event. */
export function roleOf(host: DirectorHost, bus: BusWatch): { role: string; epoch?: number } {
  const beat = bus.latestHeartbeat(host.id);
  const fresh = beat && beat.receivedAt >= host.startedAt() ? beat : undefined;
  const change = bus.events.findLast((e) => e.event.type === "leader-changed");
  if (change && change.receivedAt >= host.startedAt() && (!fresh || change.receivedAt > fresh.receivedAt))
    return {
      role: change.event.leader === host.id ? "leader" : "follower",
      epoch: Number(change.event.epoch),
    };
  if (!fresh) return { role: "starting" };
  return fresh.epoch === undefined ? { role: fresh.role } : { role: fresh.role, epoch: fresh.epoch };
}

/** Column heading: "lvs-a (VIP) · leader · epoch 7", or what it was when it is not running. */
export function heading(host: DirectorHost, bus: BusWatch, vipHolder: boolean): string {
  const name = vipHolder ? `${host.id} (VIP)` : host.id;
  if (!host.running()) {
    const last = bus.latestHeartbeat(host.id);
    const was = last ? `; was ${last.role}, epoch ${last.epoch ?? "?"}` : "";
    return `${name} · NOT RUNNING (killed${was})`;
  }
  const { role, epoch } = roleOf(host, bus);
  return epoch === undefined ? `${name} · ${role}` : `${name} · ${role} · epoch ${epoch}`;
}

/** The newest `leader-changed` event naming `leader`, received after `since`. */
export function leaderChangedAfter(bus: BusWatch, leader: string, since: number) {
  const found = bus.events.find(
    (e) => e.receivedAt > since && e.event.type === "leader-changed" && e.event.leader === leader,
  );
  return found && { at: found.receivedAt, epoch: Number(found.event.epoch), event: found.event };
}
