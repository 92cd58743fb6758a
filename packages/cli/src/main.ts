import { runCli } from "./program.js";

// A reader that goes away (`lvsq schema | head -1`) ends the output, not the process with a stack trace:
// stop quietly, as the shell's own tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
}

const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// The command has finished (agents never return from runCli; they exit from their signal handlers). Whatever
// a library still holds open (a NATS dial in flight, a timer) must not keep a one-shot command alive: a
// script waiting on `lvsq admin` would hang. Output is written synchronously to pipes and files on Linux.
setTimeout(() => process.exit(code), 500).unref();
