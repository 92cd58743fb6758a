// Runs INSIDE the guest: proves the guest helpers later tests build on (namespaces as hosts,
// veth pairs into a bridge, an HTTP server process inside a namespace), then exits 3 on purpose.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { addBridge, addNetns, addVethPair, run, spawnHttpServer, writeResult } from "../harness/in-guest.js";

const { env } = process;
const hosts = [
  { ns: "site", address: "198.51.100.1" },
  { ns: "director", address: "198.51.100.2" },
  { ns: "backend", address: "198.51.100.3" },
];
for (const host of hosts) {
  addNetns(host.ns);
  addVethPair(
    { name: `${host.ns}0`, netns: host.ns, address: `${host.address}/24` },
    { name: `br-${host.ns}` },
  );
}
addBridge("br0", { ports: hosts.map((h) => `br-${h.ns}`) });
const server = await spawnHttpServer({ host: "198.51.100.3", netns: "backend" });
const body = run([
  "ip",
  "netns",
  "exec",
  "site",
  "curl",
  "-s",
  "--max-time",
  "5",
  `http://198.51.100.3:${server.port}/`,
]);
server.stop();
// The test keeps the work folder it gave: a file written here must be there after the guest powers off.
writeFileSync(join(env.LVSQ_GUEST_OUT ?? ".", "hello.txt"), `from ${env.LVSQ_GUEST_BACKEND}\n`);
writeResult("harness.json", {
  body: body.trim(),
  port: server.port,
  siteAddresses: run(["ip", "-n", "site", "-br", "addr", "show", "site0"]).trim(),
  netns: run(["ip", "netns", "list"]).trim().split("\n").sort(),
  backend: env.LVSQ_GUEST_BACKEND,
  kernel: run(["uname", "-r"]).trim(),
});
process.exit(3);
