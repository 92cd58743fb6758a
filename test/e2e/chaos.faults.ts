// Injects the chaos schedule's faults into the world (chaos.world.ts), INSIDE the guest, and records
// each one as it really happened: its kind, target, and the moments it began and ended (for backend
// faults, the backend process's own clock at the kill, hang or restart).
import { appendFileSync, writeFileSync } from "node:fs";
import { jetstreamManager } from "@nats-io/jetstream";
import { buckets } from "@lvsq/protocol";
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
  /** NATS nodes killed or paused just now. */
  const nodesOut = new Set<number>();
  /** The index of the node leading the desired-table bucket's stream (its name is lvsq_n<index + 1>). */
  const desiredLeader = async (): Promise<number | undefined> => {
    try {
      const jsm = await jetstreamManager(world.bus.nc, { timeout: 5000 * world.scale });
      const info = await jsm.streams.info(`KV_${buckets.desired(CHAOS.CLUSTER)}`);
      const found = /^lvsq_n(\d+)$/.exec(info.cluster?.leader ?? "");
      const index = found ? Number(found[1]) - 1 : undefined;
      return index !== undefined && !nodesOut.has(index) ? index : undefined;
    } catch {
      return undefined;
    }
  };

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
        }, 1500 * world.scale);
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
        // The node leading the desired-table bucket when there is one: the pair's followers lose the
        // feed their watch reads (docs/pairs.md), while every director stays connected to the others.
        const index = (await desiredLeader()) ?? Number(f.target);
        record.target = String(index);
        const node = cluster.nodes[index]!;
        nodesOut.add(index);
        await node.kill();
        return async () => {
          await node.restart();
          nodesOut.delete(index);
          return now();
        };
      }
      case "nats-node-pause": {
        // Another node than the one killed beside it (the kill picked its node at run time).
        const scheduled = Number(f.target);
        const index = nodesOut.has(scheduled)
          ? cluster.nodes.findIndex((_, i) => !nodesOut.has(i))
          : scheduled;
        record.target = String(index);
        const node = cluster.nodes[index]!;
        nodesOut.add(index);
        node.pause();
        return async () => {
          node.resume();
          nodesOut.delete(index);
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
          world.good.replace(`interval: ${world.timers.intervalMs}ms`, "interval: soon"),
        );
        p.child.kill("SIGHUP");
        const refused = await p
          .waitForLine((l) => l.includes("config reload refused"), 15_000 * world.scale, from)
          .then(() => true)
          .catch(() => false);
        writeFileSync(world.configOf(id), world.good);
        record.detail = { refused, runningAfter: p.running() };
        if (!refused) throw new Error(`${id} did not log a refused reload`);
        return async () => now();
      }
      case "bucket-loss": {
        // The pair's lease and desired-table buckets lost at once (a node's disk gone, a bucket made again
        // to move it to more replicas): their sequences restart at 1 under running directors. The admin
        // bucket is the operator's data and stays.
        const jsm = await jetstreamManager(world.bus.nc, { timeout: 10_000 * world.scale });
        const lost = [buckets.leases(CHAOS.CLUSTER), buckets.desired(CHAOS.CLUSTER)];
        // JetStream still electing a stream's leader after a broker fault answers with a timeout: try
        // again for a few seconds (the delay is recorded) rather than call the fault not injected.
        let retries = 0;
        for (const bucket of lost)
          for (const until = Date.now() + 8_000 * world.scale; ; retries++) {
            try {
              await jsm.streams.delete(`KV_${bucket}`);
              break;
            } catch (error) {
              // A delete whose reply was lost to the timeout, tried again, finds nothing left to delete.
              if (retries > 0 && /not found/i.test(String(error))) break;
              if (Date.now() > until) throw error;
              await new Promise((r) => setTimeout(r, 500));
            }
          }
        record.detail = { lost, retries, injectedAfterMs: now() - record.startedAt };
        return async () => now();
      }
      case "director-twin": {
        // A second incarnation of the leader beside it, on its host and table, under its id (a replacement
        // started early, a hung process restarted by its supervisor); killed at the fault's end.
        const id = world.leader();
        record.target = id;
        const twin = world.startTwin(id);
        return async () => {
          await world.killTwin(twin);
          record.detail = { twinLines: twin.lines.length };
          return now();
        };
      }
      case "flood": {
        const count = f.count ?? 0;
        const byKind: Record<string, number> = {};
        const servers = CHAOS.BACKENDS.map(realServer);
        // Written a round at a time with a turn of the event loop between: the proxies and the sampler
        // run on it (built in one go, the 100,000 stalled the sampler for 24 s under QEMU's emulation).
        const file = world.floodFile();
        for (let sent = 0, round = 0; sent < count; round++) {
          const lines: string[] = [];
          for (const m of forgedMessages(CHAOS.CLUSTER, servers[round % servers.length]!)) {
            if (sent >= count) break;
            lines.push(JSON.stringify([m.subject, m.data]));
            byKind[m.kind] = (byKind[m.kind] ?? 0) + 1;
            sent++;
          }
          appendFileSync(file, `${lines.join("\n")}\n`);
          await new Promise((r) => setImmediate(r));
        }
        const { publishMs, disconnects } = await world.flood(file);
        await new Promise((r) => setTimeout(r, 2000));
        record.detail = {
          sent: count,
          byKind,
          publishMs,
          disconnects,
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
