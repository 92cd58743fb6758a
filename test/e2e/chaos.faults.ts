// Injects the chaos schedule's faults into the world (chaos.world.ts), INSIDE the guest, and records
// each one as it really happened: its kind, target, and the moments it began and ended (for backend
// faults, the backend process's own clock at the kill, hang or restart).
import { writeFileSync } from "node:fs";
import { setSiteBackendLink } from "../harness/topology.js";
import { forgedMessages } from "./director-multisite.fleet.js";
import type { InjectedFault } from "./chaos.invariants.js";
import type { Fault } from "./chaos.schedule.js";
import { CHAOS, type ChaosWorld, realServer } from "./chaos.world.js";

export type FaultRecord = InjectedFault & { detail?: Record<string, unknown>; error?: string };
type Ending = () => Promise<number | undefined>;

const now = () => Date.now();

export function faultInjector(world: ChaosWorld, log: (line: string) => void) {
  const records: FaultRecord[] = [];

  async function begin(f: Fault, record: FaultRecord): Promise<Ending> {
    const { backends, cluster, paths, fleet } = world;
    switch (f.kind) {
      case "backend-kill":
        record.startedAt = await backends.kill(f.target!);
        return () => backends.start(f.target!);
      case "backend-hang":
        record.startedAt = await backends.hang(f.target!);
        return () => backends.serve(f.target!);
      case "backend-flap": {
        record.startedAt = await backends.kill(f.target!);
        let down = true;
        let busy = Promise.resolve(0);
        const toggles = { count: 1 };
        record.detail = toggles;
        const timer = setInterval(() => {
          // Decided now, run in turn: the commands queue behind each other when the guest is slow.
          const next = down ? backends.start : backends.kill;
          busy = busy.then(() => next(f.target!));
          down = !down;
          toggles.count++;
        }, 1500);
        return async () => {
          clearInterval(timer);
          await busy;
          return down ? backends.start(f.target!) : now();
        };
      }
      case "site-backend-cut":
        setSiteBackendLink(fleet, f.target!, false);
        return async () => {
          setSiteBackendLink(fleet, f.target!, true);
          return now();
        };
      case "site-nats-cut": {
        const path = paths[`probe-${f.target}`]!;
        path.cut();
        return async () => {
          await path.heal();
          return now();
        };
      }
      case "nats-node-kill": {
        const node = cluster.nodes[Number(f.target)]!;
        await node.kill();
        return async () => {
          await node.restart();
          return now();
        };
      }
      case "nats-node-pause": {
        const node = cluster.nodes[Number(f.target)]!;
        node.pause();
        return async () => {
          node.resume();
          return now();
        };
      }
      case "broker-outage":
        await Promise.all(cluster.nodes.map((n) => n.kill()));
        return async () => {
          await Promise.all(cluster.nodes.map((n) => n.restart()));
          return now();
        };
      case "leader-kill": {
        const id = world.leader();
        record.target = id;
        await world.killDirector(id);
        return async () => {
          world.startDirector(id);
          return now();
        };
      }
      case "ipvs-fail":
        world.setIpvsFailing(true);
        return async () => {
          world.setIpvsFailing(false);
          return now();
        };
      case "bad-config": {
        // The named director, or the other one if the schedule has it down just now.
        const up = (d: string) => world.directors[d]!.running();
        const id = up(f.target!) ? f.target! : CHAOS.DIRECTORS.find((d) => d !== f.target && up(d))!;
        if (!id) throw new Error("no director up for a SIGHUP");
        record.target = id;
        const p = world.directors[id]!;
        const from = p.lines.length;
        writeFileSync(
          world.configOf(id),
          world.good.replace(`interval: ${CHAOS.TIMERS.intervalMs}ms`, "interval: soon"),
        );
        p.child.kill("SIGHUP");
        const refused = await p
          .waitForLine((l) => l.includes("config reload refused"), 15_000, from)
          .then(() => true)
          .catch(() => false);
        writeFileSync(world.configOf(id), world.good);
        record.detail = { refused, runningAfter: p.running() };
        if (!refused) throw new Error(`${id} did not log a refused reload`);
        return async () => now();
      }
      case "flood": {
        const started = now();
        const count = f.count ?? 0;
        const byKind: Record<string, number> = {};
        const servers = CHAOS.BACKENDS.map(realServer);
        for (let sent = 0, round = 0; sent < count; round++) {
          for (const m of forgedMessages(CHAOS.CLUSTER, servers[round % servers.length]!)) {
            if (sent >= count) break;
            world.bus.publishRaw(m.subject, m.data);
            byKind[m.kind] = (byKind[m.kind] ?? 0) + 1;
            sent++;
          }
          // Flush per thousand: the scenario also runs the proxies and the sampler on this event loop.
          await world.bus.flush();
        }
        const publishMs = now() - started;
        await new Promise((r) => setTimeout(r, 2000));
        record.detail = {
          sent: count,
          byKind,
          publishMs,
          rssMbAfter: Object.fromEntries(CHAOS.DIRECTORS.map((d) => [d, world.rssMb(d)])),
        };
        return async () => now();
      }
    }
  }

  /** Runs the fault (its start, then its end after its duration); never throws, records errors. */
  async function inject(f: Fault): Promise<void> {
    const record: FaultRecord = { kind: f.kind, startedAt: now(), ...(f.target ? { target: f.target } : {}) };
    records.push(record);
    log(`fault ${f.kind}${f.target ? ` ${f.target}` : ""} for ${f.durationMs} ms`);
    try {
      const end = await begin(f, record);
      await new Promise((r) => setTimeout(r, f.durationMs));
      record.endedAt = (await end()) ?? now();
    } catch (error) {
      record.error = String((error as Error).message ?? error);
      record.endedAt ??= now();
      log(`fault ${f.kind} failed: ${record.error}`);
    }
  }

  return { records, inject };
}
