import type { ServiceExplanation } from "@lvsq/engine";
import { LvsqError, subjects } from "@lvsq/protocol";
import { ExitCode } from "@lvsq/runtime";
import type { Command } from "commander";
import { VIEWER_USER } from "@lvsq/config";
import { connectBus, loadConfigOrExit, oneShotBusLogger, requireId, terminalLogger } from "../common.js";
import { askControl, controlSocketPath } from "../control-socket.js";
import { renderExplanation } from "../explain-render.js";
import { type CliIo, ExitWith } from "../io.js";

type Answer = { director: string; role: string; explanation: ServiceExplanation } | { error: string };

export function registerExplain(program: Command, io: CliIo): void {
  program
    .command("explain")
    .summary("say why each real server of a service is in or out of the table")
    .description(
      "Asks a running director (over NATS; in standalone mode, the local `lvsq run` over its unix socket) and\n" +
        "prints for each real server: in/out and weight, the rule that decided, the tally against the quorum\n" +
        "thresholds, and every probe's vote by site with its age and reason.",
    )
    .requiredOption("--config <file>", "fleet config (YAML)")
    .option("--director <id>", "which director to ask (default: the first in the config)")
    .option("--json", "print the explanation as JSON")
    .option("--creds <file>", `NATS credentials file (default: the config's, for user ${VIEWER_USER})`)
    .argument("<service>", "service id")
    .argument("[rs]", "one real server (ip:port)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ lvsq explain --config fleet.yaml web\n  $ lvsq explain --config fleet.yaml web 198.51.100.12:80 --director lvs-b --json",
    )
    .action(
      async (
        service: string,
        rs: string | undefined,
        options: { config: string; director?: string; json?: boolean; creds?: string },
        command: Command,
      ) => {
        const config = await loadConfigOrExit(options.config, io);
        if (!config.services[service]) {
          io.stderr(
            `error: unknown service "${service}"; expected one of: ${Object.keys(config.services).join(", ")}\n`,
          );
          throw new ExitWith(ExitCode.usage);
        }
        let answer: Answer;
        if (config.standalone) {
          answer = (await askControl(controlSocketPath(config.cluster), service, rs).catch(fail)) as Answer;
        } else {
          const director = options.director ?? config.directors[0]!.id;
          requireId(
            "director",
            director,
            config.directors.map((d) => d.id),
            io,
          );
          const logger = oneShotBusLogger(command, terminalLogger(command, io, "lvsq explain"));
          const nats = config.nats.servers.join(", ");
          const bus = await connectBus(config, "lvsq-explain", logger, io, {
            identity: VIEWER_USER,
            creds: options.creds,
            firstConnectWaitMs: 3000,
          });
          try {
            answer = (await bus
              .request(subjects.explain(config.cluster, director), { service, rs }, 3000)
              .catch((error: unknown) => fail(requestFailure(error, director, nats)))) as Answer;
          } finally {
            await bus.close();
          }
        }
        if ("error" in answer) {
          io.stderr(`error: ${answer.error}\n`);
          throw new ExitWith(ExitCode.failure);
        }
        io.stdout(options.json ? `${JSON.stringify(answer, null, 2)}\n` : renderExplanation(answer));

        function fail(error: unknown): never {
          io.stderr(`error: ${error instanceof Error ? error.message : String(error)}\n`);
          throw new ExitWith(ExitCode.failure);
        }
      },
    );
}

/** What went wrong asking a director, in words that name it and the NATS servers tried. */
function requestFailure(error: unknown, director: string, nats: string): string {
  const code = error instanceof LvsqError ? error.code : undefined;
  if (code === "bus_unavailable") return `cannot reach NATS at ${nats} to ask director ${director}`;
  if (code === "not_found")
    return `director ${director} is not answering on NATS at ${nats} (is it running?)`;
  if (code === "bus_timeout") return `director ${director} did not answer within 3 s (NATS at ${nats})`;
  return error instanceof Error ? error.message : String(error);
}
