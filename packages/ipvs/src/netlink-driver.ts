import { constants } from "node:os";
import { type IpvsTable, LvsqError, sortTable, type VirtualServiceEntry } from "@lvsq/protocol";
import { execa } from "execa";
import type { ApplyResult, IpvsDriver } from "./driver.js";
import {
  describeRefusal,
  errnoName as codeOf,
  IpvsNetlinkError,
  IpvsUnavailableError,
  type OpFailure,
  opSubject,
} from "./nl-errors.js";
import {
  decodeFamilyId,
  decodeIpvs,
  encodeGetFamily,
  encodeIpvs,
  GENL_ID_CTRL,
  IPVS_CMD,
  IPVS_GENL_NAME,
  IPVS_GENL_VERSION,
  type IpvsServiceAttrs,
} from "./nl-ipvs-attrs.js";
import { opMessage, serverFromAttrs, serviceFromAttrs, serviceIdAttrs } from "./nl-ipvs-model.js";
import { type Answer, GenlSocket, type NetlinkTransport, openRawTransport } from "./nl-socket.js";
import type { IpvsOp } from "./ops.js";

export type NetlinkDriverOptions = {
  /** Every wait for the kernel: a request fails when the kernel has answered nothing for this long (10 s). */
  timeoutMs?: number;
  /**
   * Refused: a netlink socket belongs to the network namespace of the process that opens it, and Node
   * cannot enter another one. Run the director inside the namespace (`ip netns exec NS lvsq ...`), or use
   * the ipvsadm driver, whose `netns` runs `ip netns exec NS ipvsadm`.
   */
  netns?: string;
  /** Run once when the kernel has no IPVS family yet, like ipvsadm does (default `modprobe`; false: never). */
  modprobe?: string | false;
  /** The socket under the driver (default: the `netlink` package); tests pass a fake kernel. */
  transport?: () => Promise<NetlinkTransport>;
  tap?: (direction: "out" | "in", datagram: Buffer) => void;
};

export type NetlinkDriver = IpvsDriver & {
  /** From IPVS_CMD_GET_INFO at open: `1.2.1`, and the connection hash table's size. */
  readonly info: { version: string; connTabSize: number; familyId: number };
  /** Answers that matched no request (late after a deadline) or did not parse. */
  dropped(): number;
  close(): void;
};

const { ENOENT, ESRCH, EEXIST } = constants.errno;

/**
 * The kernel driver over generic netlink: ONE socket for the life of the process, the IPVS family
 * resolved once. `apply` pipelines one request per op, each with its own ACK, so each op's error is its
 * own and the others still take. Writes are idempotent as in keepalived and ipvsadm: a delete of what is
 * gone took; an add that meets an existing entry is re-sent as a set (and a set of a missing entry as an
 * add), so every op that took has its postcondition in the kernel, known without re-reading the table.
 * `read` dumps the services, then each service's destinations.
 */
export async function openNetlinkDriver(options: NetlinkDriverOptions = {}): Promise<NetlinkDriver> {
  if (options.netns !== undefined) {
    throw new IpvsUnavailableError(
      `the netlink driver cannot open its socket in network namespace ${options.netns}: run the director ` +
        `inside it (ip netns exec ${options.netns} lvsq ...), or use driver ipvsadm, which runs ` +
        "`ip netns exec NS ipvsadm`",
    );
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const transport = await (options.transport ?? openRawTransport)();
  const socket = new GenlSocket(transport, { timeoutMs, ...(options.tap ? { tap: options.tap } : {}) });
  try {
    const familyId = await resolveFamily(socket, options.modprobe ?? "modprobe", timeoutMs);
    const infoAnswer = await socket.request(familyId, encodeIpvs({ cmd: IPVS_CMD.GET_INFO, version: 1 }));
    const reply = "lost" in infoAnswer || infoAnswer.errno !== 0 ? undefined : infoAnswer.replies[0];
    if (reply === undefined) throw new IpvsUnavailableError(`IPVS_CMD_GET_INFO failed: ${why(infoAnswer)}`);
    const info = decodeIpvs(reply.payload).info ?? {};
    const v = info.version ?? 0;
    return createDriver(socket, {
      version: `${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}`,
      connTabSize: info.connTabSize ?? 0,
      familyId,
    });
  } catch (error) {
    socket.close();
    throw error;
  }
}

async function resolveFamily(socket: GenlSocket, modprobe: string | false, timeoutMs: number) {
  let answer = await socket.request(GENL_ID_CTRL, encodeGetFamily(IPVS_GENL_NAME));
  let loaded = "";
  if (!("lost" in answer) && answer.errno === ENOENT && modprobe !== false) {
    const r = await execa(modprobe, ["ip_vs"], { timeout: timeoutMs, reject: false });
    loaded =
      r.exitCode === 0 ? " after modprobe ip_vs" : `; ${modprobe} ip_vs: ${r.stderr || r.shortMessage}`;
    answer = await socket.request(GENL_ID_CTRL, encodeGetFamily(IPVS_GENL_NAME));
  }
  const reply = "lost" in answer || answer.errno !== 0 ? undefined : answer.replies[0];
  if (reply === undefined) {
    const reason =
      !("lost" in answer) && answer.errno === ENOENT ? "the kernel has no IPVS (ip_vs)" : why(answer);
    throw new IpvsUnavailableError(`cannot resolve generic netlink family IPVS: ${reason}${loaded}`);
  }
  return decodeFamilyId(reply.payload);
}

function why(answer: Answer): string {
  return "lost" in answer ? answer.lost : `errno ${answer.errno}`;
}

function createDriver(socket: GenlSocket, info: NetlinkDriver["info"]): NetlinkDriver {
  const family = info.familyId;
  const request = (op: IpvsOp, ids?: Map<string, IpvsServiceAttrs>) => ({
    type: family,
    payload: encodeIpvs(opMessage(op, ids)),
  });

  async function dumpOrThrow(cmd: number, what: string, service?: VirtualServiceEntry) {
    const payload = encodeIpvs({
      cmd,
      version: IPVS_GENL_VERSION,
      ...(service ? { service: serviceIdAttrs(service) } : {}),
    });
    const answer = await socket.dump(family, payload);
    if ("lost" in answer || answer.errno !== 0) {
      throw new LvsqError("ipvs_netlink_failed", `reading ${what} over netlink failed: ${why(answer)}`);
    }
    return answer.replies.map((m) => decodeIpvs(m.payload));
  }

  /** Services, then each one's destinations, one dump at a time (the kernel allows one per socket). */
  async function dumpTable(): Promise<{ table: IpvsTable; connections: Map<string, Map<string, number>> }> {
    const services = (await dumpOrThrow(IPVS_CMD.GET_SERVICE, "the services")).flatMap((m) =>
      m.service ? [serviceFromAttrs(m.service)] : [],
    );
    const connections = new Map<string, Map<string, number>>();
    for (const service of services) {
      const counts = new Map<string, number>();
      for (const m of await dumpOrThrow(IPVS_CMD.GET_DEST, `the real servers of ${service.key}`, service)) {
        if (m.dest === undefined) continue;
        const { server, connections: n } = serverFromAttrs(m.dest, service.key);
        service.realServers.push(server);
        counts.set(server.address, n);
      }
      connections.set(service.key, counts);
    }
    return { table: sortTable({ services }), connections };
  }

  async function apply(ops: readonly IpvsOp[]): Promise<ApplyResult> {
    const started = performance.now();
    if (ops.length === 0) return { applied: 0, durationMs: 0, warnings: [] };
    const failures: OpFailure[] = [];
    const warnings: string[] = [];
    const sendable: { op: IpvsOp; request: { type: number; payload: Buffer } }[] = [];
    const ids = new Map<string, IpvsServiceAttrs>();
    for (const op of ops) {
      try {
        // An op the codec cannot express (a malformed address) is refused before anything is sent.
        sendable.push({ op, request: request(op, ids) });
      } catch (error) {
        failures.push({ op, code: "EINVAL", message: `${opSubject(op)}: ${(error as Error).message}` });
      }
    }
    const answers = await socket.batch(sendable.map((s) => s.request));
    const retries: { op: IpvsOp; retry: IpvsOp; errno: number }[] = [];
    let exact = true;
    sendable.forEach(({ op }, i) => {
      const answer = answers[i]!;
      if ("lost" in answer) {
        exact = false;
        failures.push({ op, code: "ELOST", message: `${opSubject(op)}: ${answer.lost}` });
        return;
      }
      const { errno } = answer;
      if (errno === 0) return;
      const gone =
        (op.type === "delete-service" && errno === ESRCH) ||
        (op.type === "delete-server" && (errno === ENOENT || errno === ESRCH));
      if (gone) {
        warnings.push(describeRefusal(op, errno, "already gone"));
        return;
      }
      const retry = retryFor(op, errno);
      if (retry !== undefined) retries.push({ op, retry, errno });
      else failures.push({ op, errno, code: codeOf(errno), message: describeRefusal(op, errno) });
    });
    if (retries.length > 0) {
      const second = await socket.batch(retries.map(({ retry }) => request(retry)));
      retries.forEach(({ op, retry, errno }, i) => {
        const answer = second[i]!;
        const first = describeRefusal(op, errno, `sent as ${retry.type} instead`);
        if ("lost" in answer) {
          exact = false;
          failures.push({ op, code: "ELOST", message: `${first}; then: ${answer.lost}` });
        } else if (answer.errno === 0) {
          warnings.push(first);
        } else {
          failures.push({
            op,
            errno: answer.errno,
            code: codeOf(answer.errno),
            message: `${first}; then ${describeRefusal(retry, answer.errno)}`,
          });
        }
      });
    }
    if (failures.length > 0) {
      const order = new Map(ops.map((op, i) => [op, i]));
      failures.sort((a, b) => (order.get(a.op) ?? 0) - (order.get(b.op) ?? 0));
      throw new IpvsNetlinkError(ops.length, failures, exact, warnings);
    }
    return { applied: ops.length, durationMs: performance.now() - started, warnings };
  }

  return {
    info,
    read: async () => (await dumpTable()).table,
    connections: async () => (await dumpTable()).connections,
    apply,
    dropped: () => socket.dropped,
    close: () => socket.close(),
  };
}

/** The write that makes `op`'s postcondition hold when the entry was not in the state the plan saw. */
function retryFor(op: IpvsOp, errno: number): IpvsOp | undefined {
  if (op.type === "add-service" && errno === EEXIST) return { ...op, type: "edit-service" };
  if (op.type === "edit-service" && errno === ESRCH) return { ...op, type: "add-service" };
  if (op.type === "add-server" && errno === EEXIST) return { ...op, type: "edit-server" };
  if (op.type === "edit-server" && errno === ENOENT) return { ...op, type: "add-server" };
  return undefined;
}
