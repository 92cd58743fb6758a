import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, connectNatsBus } from "@lvsq/bus";
import { DirectorHeartbeat, subjects, VoteBatch } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Backend, repoRoot, startBackend, waitFor } from "../harness/agents.js";
import { bootContainer, type ContainerRun, requireDebianRoot } from "../harness/debian-root.js";
import { runInGuest } from "../harness/guest.js";
import { type NatsServerHandle, startNatsServer } from "../harness/nats.js";
import { CONTAINER_SCRIPT, UNITS } from "./package-install.script.js";

// `npm run package` builds the .deb; a fresh Debian bookworm root (minbase + systemd + adduser: no Node) boots
// as a container with its own systemd, and an operator's first hour runs in it: dpkg -i, lvsq --version,
// validate, systemd-analyze verify and security on every unit, a probe, a director (dry-run) and the status page
// started with systemctl (voting to, and heard on, a real nats-server the test runs on the host), reload,
// upgrade, purge. The root is never written: the container's root is an overlay on a tmpfs.

const quiet = createLogger({ level: "silent" });

/** Guest scenario: the packaged `lvsq run` as an unprivileged user with CAP_NET_ADMIN only. */
const KERNEL_SCENARIO = (lvsq: string, addon: string) => `
OUT=$LVSQ_GUEST_OUT
CAPS="--reuid=65534 --regid=65534 --clear-groups --inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin"
CAPS="$CAPS --bounding-set=-all,+net_admin --no-new-privs"
setpriv --reuid=65534 --regid=65534 --clear-groups ipvsadm -A -t 192.0.2.99:80 > /dev/null 2>&1
echo $? > $OUT/nocap.txt
node -e 'require("http").createServer((q, s) => s.end("ok")).listen(8081, "127.0.0.1")' &
cat > /run/seed.yaml <<'SEED'
cluster: pkgk
services:
  web:
    vip: 192.0.2.10:80
    scheduler: rr
    forwarding: nat
    check: { type: http, path: /, interval: 500ms, timeout: 400ms, rise: 1, fall: 1 }
    realServers: [{ address: 127.0.0.1:8081 }]
SEED
mkdir -p /run/lvsq-e2e && chown 65534 /run/lvsq-e2e
LVSQ_NETLINK_ADDON=${addon} LVSQ_CONTROL_SOCKET=/run/lvsq-e2e/ctl.sock setpriv $CAPS ${lvsq} run --config /run/seed.yaml > $OUT/run.log 2>&1 &
pid=$!
n=600; until grep -q 7F000001:1F91 /proc/net/ip_vs; do n=$((n - 1)); [ $n -le 0 ] && break; sleep 0.1; done
cat /proc/net/ip_vs > $OUT/ip_vs.txt
grep -E '^(Uid|CapEff):' /proc/$pid/status > $OUT/status.txt
kill $pid; wait $pid
grep -q 7F000001:1F91 $OUT/ip_vs.txt
`;

describe("the Debian package, installed into a fresh root and run by systemd", () => {
  const shared = mkdtempSync(join(tmpdir(), "lvsq-package-e2e-"));
  let nats: NatsServerHandle;
  let backend: Backend;
  let bus: Bus;
  let run: ContainerRun;
  let facts: Record<string, string> = {};
  let statusUrl: URL;
  const votes: VoteBatch[] = [];
  const heartbeats: DirectorHeartbeat[] = [];
  const page: Record<string, number> = {};

  beforeAll(async () => {
    const root = requireDebianRoot();
    // The real artifact, built from this tree's build output (npm test builds first); about 30 s here.
    const built = spawnSync(process.execPath, [join(repoRoot, "scripts/package/deb.mjs")], {
      encoding: "utf8",
      timeout: 240_000,
    });
    if (built.status !== 0) throw new Error(`npm run package failed:\n${built.stderr}`);
    copyFileSync(built.stdout.trim().split("\n").pop()!, join(shared, "lvsq.deb"));

    nats = await startNatsServer();
    backend = await startBackend();
    bus = await connectNatsBus({ servers: [nats.url], name: "test-listener", logger: quiet });
    bus.subscribe(subjects.allVotes("pkg"), VoteBatch, (batch) => void votes.push(batch));
    bus.subscribe(subjects.directorStatus("pkg", "d1"), DirectorHeartbeat, (h) => void heartbeats.push(h));
    writeFileSync(
      join(shared, "fleet.yaml"),
      `cluster: pkg
nats: { servers: [${nats.url}] }
defaults: { check: { type: http, interval: 300ms, timeout: 200ms, rise: 1, fall: 2 } }
quorum: { startupGrace: 0s }
sites: [s1]
probes: [{ id: p1, site: s1 }]
directors: [{ id: d1, pair: edge }]
services:
  web:
    vip: 192.0.2.10:80
    forwarding: nat
    realServers: [{ address: ${backend.address} }]
`,
    );
    writeFileSync(join(shared, "run.sh"), CONTAINER_SCRIPT, { mode: 0o755 });

    // Boot, dpkg and the starts take 15-30 s here; 240 s allows for a loaded 2-core host.
    const container = bootContainer({ root, shared, script: "/e2e/run.sh", timeoutMs: 240_000 });
    const exited = container.done.then((r) => {
      run = r;
      return r;
    });
    const why = () => `${readMaybe("facts")}\n--- trace ---\n${readMaybe("trace.log").slice(-4000)}`;
    await waitFor(
      "the container's units running",
      async () => {
        if (run) throw new Error(`the container ended early (exit ${run.code}):\n${run.console}\n${why()}`);
        return existsSync(join(shared, "running"));
      },
      200_000,
      200,
    );
    // What the host sees while they run: votes from the packaged probe, the packaged director leading,
    // and the status page served by the packaged binary (its files are inside the executable).
    await waitFor(
      "a vote from p1 with the backend up",
      () => votes.some((v) => v.votes[0]?.state === "up"),
      20_000,
    );
    await waitFor("d1 leading", () => heartbeats.some((h) => h.role === "leader"), 20_000);
    facts = readFacts();
    statusUrl = new URL(facts.status_url!);
    for (const path of ["/", "/app.js", "/style.css", "/snapshot.json"]) {
      page[path] = (await fetch(new URL(path, statusUrl))).status;
    }
    writeFileSync(join(shared, "continue"), "");
    await exited;
    facts = readFacts();
    if (facts.done !== "yes") throw new Error(`the script did not finish:\n${why()}`);
  }, 300_000);

  afterAll(async () => {
    await bus?.close();
    await backend?.close();
    await nats?.dispose();
    rmSync(shared, { recursive: true, force: true });
  });

  function readMaybe(file: string): string {
    try {
      return readFileSync(join(shared, file), "utf8");
    } catch {
      return `(no ${file})`;
    }
  }
  function readFacts(): Record<string, string> {
    const text = readMaybe("facts");
    return Object.fromEntries(
      text
        .split("\n")
        .filter((l) => l.includes("="))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
  }

  it("installs into a root without Node, and /usr/bin/lvsq runs with the runtime it carries", () => {
    expect(run.code, run.console).toBe(0);
    expect([facts.node, facts.nodejs_package]).toEqual(["none", "absent"]);
    expect(facts.install, readMaybe("dpkg-install.log")).toBe("0");
    expect(facts.which).toBe("/usr/bin/lvsq");
    const version = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).version;
    expect(facts.version).toBe(version);
    expect(facts.validate_example, readMaybe("validate-example.log")).toBe("0");
    expect(facts.user).toBe("lvsq:/var/lib/lvsq:/usr/sbin/nologin");
    expect(facts.conffiles?.trim().split(" ")).toEqual(["/etc/lvsq/fleet.yaml", "/etc/default/lvsq"]);
  });

  it("has units that systemd-analyze verify passes, and prints their security scores", () => {
    const scores = UNITS.map((u) => `${u}.service`).map((unit) => {
      expect(facts[`verify_${unit}`], readMaybe(`verify-${unit}.log`)).toBe("0");
      return [unit, facts[`security_${unit}`]!] as const;
    });
    console.log(
      `systemd-analyze security --offline=true (systemd 252, as installed):\n${scores.map(([u, s]) => `  ${u.padEnd(28)} ${s}`).join("\n")}`,
    );
    // systemd's scale, lower is safer: OK is below 4.0, MEDIUM below 7.0, EXPOSED below 9.0 (the issue
    // asks OK for the probe and the status page; every unit here is OK, the director's capability included).
    for (const [unit, score] of scores) {
      expect(score, unit).toMatch(/^\d\.\d (OK|SAFE|PERFECT)$/);
      expect(Number(score.split(" ")[0]), unit).toBeLessThan(4);
    }
  });

  it("runs a probe, a director and the status page under systemd, sandboxed, heard on NATS", () => {
    for (const unit of ["lvsq-probe@p1", "lvsq-director@d1", "lvsq-status"]) {
      expect(facts[`active_${unit}`], unit).toBe("0");
      expect(facts[`uid_${unit}`], unit).not.toBe("0"); // the lvsq user, not root
      expect(facts[`nonewprivs_${unit}`], unit).toBe("1");
      expect(facts[`seccomp_${unit}`], unit).toBe("2"); // a system call filter is on
    }
    expect(facts["capeff_lvsq-probe@p1"]).toBe("0000000000000000");
    expect(facts["capeff_lvsq-status"]).toBe("0000000000000000");
    expect(facts["capeff_lvsq-director@d1"]).toBe("0000000000001000"); // CAP_NET_ADMIN (bit 12) only
    expect([facts.director_started, facts.status_started, facts.reload]).toEqual(["0", "0", "0"]);
    expect(votes.some((v) => v.probe === "p1" && v.votes[0]?.rs === backend.address)).toBe(true);
    expect(heartbeats.some((h) => h.role === "leader")).toBe(true);
    expect(statusUrl.hostname).toBe("127.0.0.1");
    expect(page).toEqual({ "/": 200, "/app.js": 200, "/style.css": 200, "/snapshot.json": 200 });
    // journald keeps the agent's JSON lines with their stable fields
    const lines = readMaybe("director.journal")
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => l.director === "d1" && l.op === "dry-run")).toBe(true);
  });

  it("programs a real IPVS table as the director unit would run it: not root, CAP_NET_ADMIN only", async () => {
    // The guest kernel has IPVS; the packaged executable runs `lvsq run` there under setpriv with what the
    // lvsq-run / lvsq-director units give it: an unprivileged user, CAP_NET_ADMIN as its only (ambient,
    // bounding) capability, no new privileges. Without the capability ipvsadm is refused (the control).
    const extracted = join(shared, "extracted");
    const unpacked = spawnSync("dpkg-deb", ["-x", join(shared, "lvsq.deb"), extracted], { encoding: "utf8" });
    expect(unpacked.status, unpacked.stderr).toBe(0);
    // mkdtemp made the folder 0700: the unprivileged user the scenario runs as must reach the binding.
    chmodSync(shared, 0o755);
    // QEMU/TCG: about 7 s of boot, 2-3 s per process start, the first check round; 110 s is generous.
    const guest = await runInGuest({
      timeoutMs: 110_000,
      // Extracted, not installed: its netlink binding is not at /usr/lib/lvsq, so the scenario says where.
      script: KERNEL_SCENARIO(join(extracted, "usr/bin/lvsq"), join(extracted, "usr/lib/lvsq/netlink.node")),
    });
    const out = (file: string) => guest.files[file] ?? `(no ${file})`;
    expect(guest.exitCode, `${guest.stdout.slice(-3000)}\n${out("run.log")}`).toBe(0);
    expect(out("nocap.txt").trim()).not.toBe("0");
    // TCP 192.0.2.10:80 rr with the real server 127.0.0.1:8081 masqueraded, as the config says
    expect(out("ip_vs.txt")).toMatch(/TCP\s+C000020A:0050 rr[\s\S]*-> 7F000001:1F91\s+Masq\s+1\s/);
    expect(out("status.txt")).toMatch(/^Uid:\s+65534\s[\s\S]*^CapEff:\s+0000000000001000$/m);
    // over netlink (the binding the package installs beside the executable), not the ipvsadm fallback
    expect(out("run.log")).toMatch(/"driver":"netlink".*"msg":"ipvs driver"/);
  }, 130_000);

  it("keeps an edited conffile and restarts running units on upgrade, and purges cleanly", () => {
    expect(facts.upgrade, readMaybe("dpkg-upgrade.log")).toBe("0");
    expect([facts.active_after_upgrade, facts.director_restarted, facts.conffile_kept]).toEqual([
      "0",
      "yes",
      "0",
    ]);
    expect(facts.purge, readMaybe("dpkg-purge.log")).toBe("0");
    expect([facts.binary_after_purge, facts.running_after_purge, facts.user_after_purge]).toEqual([
      "gone",
      "0",
      "kept",
    ]);
  });
});
