import type { ClientSample } from "../harness/fleet-agents.js";
import type { Fleet } from "../harness/topology.js";

/** The demo's voice: plain lines on stdout (the host streams them out of the guest as they come). */
export type Narrator = ReturnType<typeof narrator>;

export const DEMO_BEGIN = "LVSQ-DEMO-BEGIN";
export const DEMO_END = "LVSQ-DEMO-END";

const rule = (title: string) => `\n━━ ${title} ${"━".repeat(Math.max(4, 76 - title.length))}`;
const indent = (text: string, by = "    ") =>
  text
    .trimEnd()
    .split("\n")
    .map((line) => by + line)
    .join("\n");

export function narrator(write: (line: string) => void = (line) => console.log(line)) {
  const startedAt = Date.now();
  let stepNo = 0;
  let failed = false;
  const clock = () => `${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s`;
  return {
    begin() {
      write(DEMO_BEGIN);
    },
    intro(
      fleet: Fleet,
      standby: Fleet["director"],
      configPath: string,
      backends: readonly string[],
      fallback: string,
      timers: {
        intervalMs: number;
        timeoutMs: number;
        fall: number;
        rise: number;
        voteTtlMs: number;
        leaseTtlMs: number;
        scale: number;
      },
    ) {
      write(rule("lvsq demo: quorum-voted health checks on a real kernel IPVS table"));
      const { env } = process;
      const guest = env.LVSQ_GUEST_BACKEND === "qemu" ? "a QEMU guest" : "a User-Mode Linux guest";
      write(
        `  Inside ${guest} (a real Linux ${env.LVSQ_GUEST_KERNEL ?? ""} kernel), one network namespace per host:`,
      );
      write(`    nats        ${fleet.nats.address}           nats-server (the bus)`);
      for (const s of fleet.sites)
        write(`    site ${s.id}      ${s.mgmtAddress} / ${s.beAddress}   lvsq probe --id probe-${s.id}`);
      write(
        `    lvs-a       ${fleet.director.mgmtAddress} / ${fleet.director.beAddress}    lvsq director --id lvs-a, holds the VIP ${fleet.vip}:80 (NAT)`,
      );
      write(
        `    lvs-b       ${standby.mgmtAddress} / ${standby.beAddress}    lvsq director --id lvs-b, standby: its own IPVS table, no VIP`,
      );
      write(`    backends    ${backends.join(", ")}`);
      write(`                fallback ${fallback} (in while no real server is up)`);
      write(
        `    client      ${fleet.client.address}          GET http://${fleet.vip}/ every 100 ms (via lvs-a)`,
      );
      const t = timers;
      const sec = (ms: number) => `${ms / 1000} s`;
      write(
        `  Checks: http every ${sec(t.intervalMs)}, timeout ${sec(t.timeoutMs)}, fall ${t.fall}, rise ${t.rise}; quorum: 2 of 3 sites; voteTtl ${sec(t.voteTtlMs)}.`,
      );
      if (t.scale !== 1)
        write(
          `  (Every timer is ${t.scale} × the demo's usual one: this guest runs under QEMU's emulation, several times slower than a KVM or User-Mode Linux guest.)`,
        );
      write(
        `  Pair edge: lvs-a and lvs-b elect a leader through a NATS KV lease (leaseTtl ${sec(t.leaseTtlMs)}); the leader`,
      );
      write("  decides, both apply the same table, so a VRRP move of the VIP to lvs-b would find it ready.");
      write(`  Config: ${configPath}`);
    },
    async step(title: string, expectation: string, body: () => Promise<string>): Promise<void> {
      stepNo++;
      write(rule(`${stepNo}. ${title}`));
      write(`  [${clock()}] expect: ${expectation}`);
      try {
        const outcome = await body();
        write(`  [${clock()}] ✓ ${outcome}`);
      } catch (error) {
        failed = true;
        write(`  [${clock()}] ✗ expectation failed: ${(error as Error).message}`);
        throw error;
      }
    },
    /** Log lines with an `event` since `since`, from every director (by id), in time order. */
    events(logs: Record<string, Record<string, unknown>[]>, since: number) {
      const lines = Object.entries(logs)
        .flatMap(([who, l]) => l.map((line) => ({ who, line, at: Date.parse(String(line.time)) })))
        .filter(({ line, at }) => typeof line.event === "string" && at >= since && line.event !== "stale")
        .sort((a, b) => a.at - b.at);
      if (lines.length === 0) return;
      write("  directors said:");
      for (const { who, line } of lines) write(`    ${who}: ${String(line.msg)}`);
    },
    client(samples: ClientSample[]) {
      const answers = new Map<string, number>();
      let failures = 0;
      for (const s of samples) {
        if (s.ok) answers.set(s.text, (answers.get(s.text) ?? 0) + 1);
        else failures++;
      }
      const by = [...answers.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([who, n]) => `${who} ×${n}`)
        .join(", ");
      const requests = samples.length === 1 ? "1 request" : `${samples.length} requests`;
      write(`  client: ${requests} since the step began; answered by ${by || "nobody"}; ${failures} failed`);
    },
    command(title: string, output: string) {
      write(`\n  $ ${title}`);
      write(indent(output));
    },
    /** Several command outputs side by side, each under its own heading. */
    columns(title: string, columns: readonly { heading: string; text: string }[]) {
      write(`\n  $ ${title}`);
      write(indent(sideBySide(columns)));
    },
    note(text: string) {
      write(`  ${text}`);
    },
    fail(message: string) {
      failed = true;
      write(`\n  ✗ the demo stopped: ${message}`);
    },
    end() {
      write(rule(failed ? `demo FAILED after ${clock()}` : `demo finished in ${clock()}`));
      write(DEMO_END);
      if (failed) process.exitCode = 1;
    },
  };
}

/** Lays out texts in columns (each padded to its widest line), separated by " │ ". */
export function sideBySide(columns: readonly { heading: string; text: string }[]): string {
  const blocks = columns.map((c) => [
    c.heading,
    "─".repeat(c.heading.length),
    ...c.text.trimEnd().split("\n"),
  ]);
  const widths = blocks.map((lines) => Math.max(...lines.map((l) => l.trimEnd().length)));
  const height = Math.max(...blocks.map((lines) => lines.length));
  const rows: string[] = [];
  for (let i = 0; i < height; i++)
    rows.push(
      blocks
        .map((lines, c) => (lines[i] ?? "").trimEnd().padEnd(widths[c] ?? 0))
        .join(" │ ")
        .trimEnd(),
    );
  return rows.join("\n");
}
