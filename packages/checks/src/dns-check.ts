import { createSocket } from "node:dgram";
import { connect } from "node:net";
import type { DnsCheckConfig } from "@lvsq/config";
import dnsPacket from "dns-packet";
import { type CheckRun, socketVerdict, withDeadline } from "./deadline.js";
import { type CheckResult, makeResult } from "./result.js";
import { type CheckTarget, splitEndpoint } from "./target.js";

/** Bigger answers are cut by the server over UDP (TC flag) anyway; over TCP this is plenty for a check. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Asks the real server one question, over UDP (a connected socket, so ICMP port unreachable is `down`) or
 * TCP (two-byte length framing, RFC 1035 4.2.2). Up when the answer has our id, is a response, has an rcode
 * in `expectRcode` (default NOERROR) and, with `expectAnswer`, at least one answer record whose text (as dig
 * prints it: `192.0.2.1`, `10 mail.example.com`) matches the regular expression.
 */
export function runDnsCheck(
  check: DnsCheckConfig,
  target: CheckTarget,
  signal?: AbortSignal,
): Promise<CheckResult> {
  const endpoint = splitEndpoint(target.address, check.port);
  if ("error" in endpoint) return Promise.resolve(makeResult("abstain", performance.now(), endpoint.error));
  let pattern: RegExp | undefined;
  try {
    pattern = check.expectAnswer === undefined ? undefined : new RegExp(check.expectAnswer);
  } catch {
    return Promise.resolve(
      makeResult("abstain", performance.now(), "expectAnswer is not a regular expression"),
    );
  }
  // A query id from the clock's low bits is enough: the socket is ours alone and used for one question.
  const id = Math.floor(performance.now() * 1000) & 0xffff;
  const query: dnsPacket.Packet = {
    type: "query",
    id,
    flags: check.recurse ? dnsPacket.RECURSION_DESIRED : 0,
    // ANY (255) is a query-only type the typings leave out; dns-packet encodes it.
    questions: [{ type: check.queryType as dnsPacket.RecordType, name: check.query, class: "IN" }],
  };
  const judge = (run: CheckRun, bytes: Buffer): void => judgeResponse(run, check, id, pattern, bytes);
  return withDeadline(check.timeoutMs, signal, (run) => {
    if (check.transport === "udp") {
      const socket = createSocket(endpoint.family === 6 ? "udp6" : "udp4");
      run.onFinish(() => socket.close());
      socket.on("error", (error) => {
        if ((error as NodeJS.ErrnoException).code === "ECONNREFUSED")
          run.finish("down", "ICMP port unreachable");
        else run.finish(...socketVerdict(error, run.phase));
      });
      socket.on("message", (message) => judge(run, message));
      socket.connect(endpoint.port, endpoint.host, () => {
        run.phase = "answer";
        socket.send(dnsPacket.encode(query), (error) => {
          if (error) run.finish(...socketVerdict(error, "send"));
        });
      });
      return;
    }
    const socket = connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    run.onFinish(() => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on("connect", () => {
      run.phase = "answer";
      socket.write(dnsPacket.streamEncode(query));
    });
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length >= 2 + length) judge(run, buffered.subarray(2, 2 + length));
        else if (buffered.length > MAX_RESPONSE_BYTES) run.finish("down", "answer too large");
      }
    });
    socket.on("end", () => run.finish("down", `closed in ${run.phase}`));
    socket.on("error", (error) => run.finish(...socketVerdict(error, run.phase)));
  });
}

function judgeResponse(
  run: CheckRun,
  check: DnsCheckConfig,
  id: number,
  pattern: RegExp | undefined,
  bytes: Buffer,
): undefined {
  let response: dnsPacket.DecodedPacket & { rcode?: string };
  try {
    response = dnsPacket.decode(bytes) as typeof response;
  } catch (error) {
    return run.finish("down", `bad answer: ${error instanceof Error ? error.message : String(error)}`);
  }
  // Over UDP a stray datagram with another id is not ours: keep waiting, as a resolver would.
  if (response.id !== id && check.transport === "udp") return undefined;
  if (response.id !== id) return run.finish("down", `answer for another query (id ${response.id})`);
  if (!response.flag_qr) return run.finish("down", "bad answer: not a response");
  const rcode = response.rcode ?? "UNKNOWN";
  const answers = (response.answers ?? []).map(answerText);
  const detail = answers.length > 0 ? answers.join("; ") : undefined;
  if (!(check.expectRcode as string[]).includes(rcode)) {
    return run.finish("down", `rcode ${rcode}, expected ${check.expectRcode.join(" or ")}`, { detail });
  }
  if (!pattern) return run.finish("up", `${rcode}, ${answers.length} answer(s)`);
  if (answers.some((text) => pattern.test(text)))
    return run.finish("up", `${rcode}, answer matched`, { detail });
  return run.finish("down", `no answer matched /${pattern.source}/ (${answers.length} answer(s))`, {
    detail,
  });
}

/** An answer record as dig shows its data. */
export function answerText(answer: dnsPacket.Answer): string {
  const data = (answer as { data?: unknown }).data;
  if (typeof data === "string") return data;
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data))
    return data.map((part) => (Buffer.isBuffer(part) ? part.toString("utf8") : String(part))).join("");
  if (data && typeof data === "object") {
    const record = data as Record<string, unknown>;
    if (answer.type === "MX") return `${record.preference} ${record.exchange}`;
    if (answer.type === "SRV") return `${record.priority} ${record.weight} ${record.port} ${record.target}`;
    if (answer.type === "SOA") return `${record.mname} ${record.rname} ${record.serial}`;
    if (answer.type === "CAA") return `${record.flags ?? 0} ${record.tag} "${record.value}"`;
    return JSON.stringify(record);
  }
  return String(data);
}
