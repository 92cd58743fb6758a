// `npm run demo`, host side (scripts/demo.mjs bundles and runs this): boots the guest with the story in
// demo.guest.ts and streams its narration. Resolves with the exit status (0 = every step as expected).
import { join } from "node:path";
import { findNatsServer } from "../harness/nats.js";
import { guestInfo, runInGuest } from "../harness/guest.js";
import { DEMO_BEGIN, DEMO_END } from "./narrate.js";

export async function runDemo(
  repoRoot: string,
  write = (text: string) => process.stdout.write(text),
): Promise<number> {
  findNatsServer(); // fails with what to install
  const guest = await guestInfo();
  write(`lvsq demo: booting a real Linux kernel: ${guest.label}...\n`);
  let pending = "";
  let narrating = false;
  const run = await runInGuest({
    // By path from the repo root: this module runs bundled from node_modules/.cache.
    nodeModule: join(repoRoot, "test/demo/demo.guest.ts"),
    env: { LVSQ_REPO: repoRoot },
    cwd: repoRoot,
    // About 1.5 minutes under UML; several times that under QEMU's emulation (TCG), where every process
    // start costs seconds.
    timeoutMs: guest.accel === "tcg" ? 420_000 : 115_000,
    onOutput: (chunk) => {
      // Only the story: the kernel's own console lines before and after it are left out.
      const lines = (pending + chunk).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (line.includes(DEMO_BEGIN)) narrating = true;
        else if (line.includes(DEMO_END)) narrating = false;
        else if (narrating) write(line.startsWith("IPVS:") ? `  (kernel) ${line}\n` : `${line}\n`);
      }
    },
  });
  if (run.exitCode !== 0) {
    if (!run.stdout.includes(DEMO_BEGIN)) write(run.stdout.split("\n").slice(-30).join("\n"));
    write(`\nlvsq demo: failed (guest exit ${run.exitCode ?? "marker missing"})\n`);
    return 1;
  }
  write(
    `lvsq demo: done in ${(run.durationMs / 1000).toFixed(1)} s of wall time on ${guest.label} (boot included)\n`,
  );
  return 0;
}
