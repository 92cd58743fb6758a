// Runs INSIDE the guest (scripts/capture-netlink-fixtures.mjs boots it): applies a table covering every
// IPVS feature lvsq models through the netlink driver, reads it back, and provokes each refusal, recording
// every datagram both ways. Writes netlink-capture.json: the fixture of the codec's byte-for-byte tests
// (packages/ipvs/src/nl-codec.test.ts), with ipvsadm's own view of the same kernel state beside it.
import { openNetlinkDriver, plan } from "@lvsq/ipvs";
import type { IpvsTable } from "@lvsq/protocol";
import { run, writeResult } from "../harness/in-guest.js";
import { coverageTable, dr, svc, tcp } from "../harness/ipvs-tables.js";

type Exchange = { out: string[]; in: string[] };
let current: Exchange = { out: [], in: [] };
const tap = (direction: "out" | "in", datagram: Buffer) => current[direction].push(datagram.toString("hex"));
const record = async <T>(body: () => Promise<T>): Promise<{ result: T; exchange: Exchange }> => {
  current = { out: [], in: [] };
  const result = await body();
  return { result, exchange: current };
};

const { env } = process;
const schedulers = (env.LVSQ_GUEST_SCHEDULERS ?? "").split(" ").filter(Boolean);
const opened = await record(() => openNetlinkDriver({ timeoutMs: 20_000, tap }));
const driver = opened.result;
const desired: IpvsTable = coverageTable(schedulers);
const owned = new Set(desired.services.map((s) => s.key));
const ops = plan(desired, { services: [] }, owned);
const applied = await record(() => driver.apply(ops));
const read = await record(() => driver.read());
const refusals = [
  // add of an existing service (set instead), delete of a missing one, an unknown scheduler, a real
  // server for a missing service, an add of an existing real server with new settings (set instead)
  { type: "add-service", service: { ...desired.services[0]!, realServers: undefined } },
  { type: "delete-service", service: svc(tcp("192.0.2.99:80"), "rr", []) },
  { type: "add-service", service: svc(tcp("192.0.2.98:80"), "nosuch", []) },
  { type: "add-server", service: svc(tcp("192.0.2.98:80"), "rr", []), server: dr("198.51.100.1:80") },
  { type: "add-server", service: desired.services[0]!, server: dr("198.51.100.1:80", 7) },
] as Parameters<typeof driver.apply>[0];
const refused = await record(() =>
  driver.apply(refusals).then(
    (r) => ({ warnings: r.warnings, failures: [] as string[] }),
    (e: { warnings?: string[]; failures?: { message: string }[] }) => ({
      warnings: e.warnings ?? [],
      failures: (e.failures ?? []).map((f) => f.message),
    }),
  ),
);
driver.close();
writeResult("netlink-capture.json", {
  kernel: run(["uname", "-r"]).trim(),
  schedulers,
  info: driver.info,
  open: opened.exchange,
  desired,
  ops,
  apply: applied.exchange,
  read: { table: read.result, ...read.exchange },
  save: run(["ipvsadm", "-S", "-n"]),
  thresholds: run(["ipvsadm", "-L", "-n", "--thresholds"]),
  refusals: { ops: refusals, ...refused.result, ...refused.exchange },
});
console.log("capture done");
