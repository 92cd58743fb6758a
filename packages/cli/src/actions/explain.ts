import { everyServerOnceMs } from "@lvsq/bus";
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

export type ExplainOptions = { config: string; director?: string; json?: boolean; creds?: string };

/** `lvsq explain <service> [rs]`: ask a director (or the local `lvsq run`) and print its answer. */
export async function runExplain(
  service: string,
  rs: string | undefined,
  options: ExplainOptions,
  command: Command,
  io: CliIo,
): Promise<void> {
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
      firstConnectWaitMs: everyServerOnceMs(config.nats.servers),
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
