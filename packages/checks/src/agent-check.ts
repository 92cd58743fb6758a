import { connect } from "node:net";
import type { AgentCheckConfig } from "@lvsq/config";
import { socketVerdict, withDeadline } from "./deadline.js";
import { type CheckResult, makeResult, type Verdict } from "./result.js";
import { type CheckTarget, splitEndpoint } from "./target.js";

/** An agent says one short line; more than this is not an agent. */
const MAX_AGENT_REPLY_BYTES = 1024;

/**
 * HAProxy's agent-check protocol: connect to the agent (`port`, usually a separate one), send `send` if
 * set, read one line (up to a newline or the close), and read its words:
 *
 *   | word(s)                       | verdict                                        |
 *   |-------------------------------|------------------------------------------------|
 *   | `up`, `ready`                 | up at the configured weight                    |
 *   | `NN%`                         | up at NN % of the configured weight            |
 *   | `drain`, `0%`                 | up at weight 0: no new connections (a drain)   |
 *   | `down`, `fail`, `stopped`     | down                                           |
 *   | `maint`                       | down (out, like `lvsq admin disable`)          |
 *   | nothing lvsq understands      | abstain                                        |
 *
 * A state word and a percentage combine (`up 50%`); `#` starts a description kept in the reason;
 * `maxconn:N` is ignored. Unlike HAProxy, an agent that does not answer (refused, timeout) is `down`: here
 * the agent is the check, not an addition to one.
 */
export function runAgentCheck(
  check: AgentCheckConfig,
  target: CheckTarget,
  signal?: AbortSignal,
): Promise<CheckResult> {
  const endpoint = splitEndpoint(target.address, check.port);
  if ("error" in endpoint) return Promise.resolve(makeResult("abstain", performance.now(), endpoint.error));
  return withDeadline(check.timeoutMs, signal, (run) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    run.onFinish(() => socket.destroy());
    let reply = "";
    const judge = (): void => {
      const [verdict, reason, weight] = parseAgentReply(reply, target.weight ?? 1);
      run.finish(verdict, reason, { weight, detail: reply });
    };
    socket.on("connect", () => {
      run.phase = "reply";
      if (check.send !== undefined && check.send !== "") socket.write(check.send);
    });
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\n") || reply.length >= MAX_AGENT_REPLY_BYTES) {
        reply = reply.slice(
          0,
          Math.min(reply.includes("\n") ? reply.indexOf("\n") : MAX_AGENT_REPLY_BYTES, MAX_AGENT_REPLY_BYTES),
        );
        judge();
      }
    });
    socket.on("end", () => (reply === "" ? run.finish("down", "agent closed without a reply") : judge()));
    socket.on("error", (error) => run.finish(...socketVerdict(error, run.phase)));
  });
}

/** The verdict, reason and weight (undefined: the configured one) of an agent's reply line. */
export function parseAgentReply(
  line: string,
  configuredWeight: number,
): [Verdict, string, number | undefined] {
  const hash = line.indexOf("#");
  const description = hash >= 0 ? line.slice(hash + 1).trim() : "";
  const words = (hash >= 0 ? line.slice(0, hash) : line)
    .trim()
    .toLowerCase()
    .split(/[\s,]+/)
    .filter(Boolean);
  let state: "up" | "down" | "drain" | "maint" | undefined;
  let percent: number | undefined;
  for (const word of words) {
    if (word === "up" || word === "ready") state = "up";
    else if (word === "down" || word === "fail" || word === "stopped") state = "down";
    else if (word === "drain") state = "drain";
    else if (word === "maint") state = "maint";
    else if (/^\d{1,3}%$/.test(word)) percent = Math.min(100, Number(word.slice(0, -1)));
  }
  const said = `agent: ${words.join(" ")}${description ? ` # ${description}` : ""}`;
  if (state === "down" || state === "maint") return ["down", said, undefined];
  if (state === "drain" || percent === 0) return ["up", said, 0];
  if (percent !== undefined) return ["up", said, Math.round((configuredWeight * percent) / 100)];
  if (state === "up") return ["up", said, undefined];
  return ["abstain", `agent reply not understood: ${JSON.stringify(line.slice(0, 60))}`, undefined];
}
