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
