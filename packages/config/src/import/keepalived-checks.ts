import { seconds, splitCommand } from "./common.js";
import { find, findAll, type Statement } from "./keepalived-syntax.js";

/** keepalived's checkers and the lvsq check each becomes. */
export const CHECKERS = [
  "HTTP_GET",
  "SSL_GET",
  "TCP_CHECK",
  "MISC_CHECK",
  "SMTP_CHECK",
  "DNS_CHECK",
  "UDP_CHECK",
  "PING_CHECK",
  "FILE_CHECK",
  "BFD_CHECK",
] as const;

/** Timing settings that a virtual server passes to its real servers and they to their checkers. */
export type Timing = { delayLoop: number; connectTimeout: number; retry: number; delayBeforeRetry?: number };

const num = (s: Statement | undefined): number | undefined => {
  const value = s?.args[0] === undefined ? Number.NaN : Number(s.args[0]);
  return Number.isFinite(value) ? value : undefined;
};

/** Reads a block's own timing settings over the inherited ones. */
export function timingOf(block: Statement[] | undefined, inherited: Timing): Timing {
  return {
    delayLoop: num(find(block, "delay_loop")) ?? inherited.delayLoop,
    connectTimeout: num(find(block, "connect_timeout")) ?? inherited.connectTimeout,
    retry: num(find(block, "retry", "nb_get_retry")) ?? inherited.retry,
    ...((num(find(block, "delay_before_retry")) ?? inherited.delayBeforeRetry) !== undefined
      ? { delayBeforeRetry: num(find(block, "delay_before_retry")) ?? inherited.delayBeforeRetry }
      : {}),
  };
}

/**
 * One keepalived checker as an lvsq check (config spelling) and the notes for what does not carry over.
 * `rise: 1` (keepalived puts a server back after one good check), `fall: retry + 1` (it retries `retry`
 * times after a failure), `interval: delay_loop`, `timeout: connect_timeout` (or misc_timeout).
 */
export function convertChecker(
  checker: Statement,
  inherited: Timing,
  note: (at: Statement, text: string) => void,
  virtualhost: string | undefined,
): Record<string, unknown> | undefined {
  const block = checker.block;
  const timing = timingOf(block, inherited);
  let timeout = num(find(block, "misc_timeout")) ?? timing.connectTimeout;
  if (timeout >= timing.delayLoop) {
    note(
      checker,
      `timeout ${timeout}s is not shorter than delay_loop ${timing.delayLoop}s; lvsq needs it shorter: set to ${timing.delayLoop / 2}s`,
    );
    timeout = timing.delayLoop / 2;
  }
  // `type` first, so the YAML reads like a hand-written check.
  const check: Record<string, unknown> = {
    type: undefined,
    interval: seconds(timing.delayLoop),
    timeout: seconds(timeout),
    rise: 1,
    fall: Math.min(100, timing.retry + 1),
  };
  if (timing.delayBeforeRetry !== undefined && timing.retry > 0) {
    note(
      checker,
      `delay_before_retry ${timing.delayBeforeRetry}s: lvsq re-checks every interval, so a failure is confirmed after fall × interval (lower interval to detect sooner)`,
    );
  }
  const port = num(find(block, "connect_port"));
  if (port !== undefined) check.port = port;
  for (const s of findAll(block, "bindto", "bind_port", "bindif", "connect_ip", "fwmark", "warmup")) {
    note(s, `${s.keyword} has no equivalent: a probe connects from its own address`);
  }
  switch (checker.keyword) {
    case "HTTP_GET":
    case "SSL_GET": {
      check.type = checker.keyword === "HTTP_GET" ? "http" : "https";
      if (checker.keyword === "SSL_GET") {
        // keepalived does not verify the certificate unless told to in global ssl settings.
        check.tlsVerify = false;
      }
      const urls = findAll(block, "url");
      const url = urls[0]?.block;
      const path = find(url, "path")?.args[0];
      if (path) check.path = path.startsWith("/") ? path : `/${path}`;
      const status = find(url, "status_code")?.args;
      if (status?.length) check.expectStatus = status.map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      const regex = find(url, "regex")?.args[0];
      if (regex) check.expectBody = regex;
      for (const other of urls) {
        const digest = find(other.block, "digest");
        if (digest)
          note(
            digest,
            "digest (an MD5 of the body) has no equivalent; use expectBody with a regular expression",
          );
      }
      if (urls.length > 1)
        note(urls[1]!, `${urls.length} url blocks: lvsq checks one path (the first, ${path ?? "/"})`);
      const host = find(block, "virtualhost")?.args[0] ?? virtualhost;
      if (host) check.host = host;
      return check;
    }
    case "TCP_CHECK":
      return { ...check, type: "tcp" };
    case "MISC_CHECK": {
      const path = find(block, "misc_path")?.args.join(" ");
      if (!path) {
        note(checker, "MISC_CHECK without misc_path: nothing to run; checked with exec [true]");
        return { ...check, type: "exec", command: ["true"] };
      }
      if (!find(block, "misc_dynamic")) {
        note(
          checker,
          "without misc_dynamic keepalived takes any exit ≠ 0 as down; lvsq's exec reads exit 2-255 as up with weight code − 2 (misc_dynamic): make the script exit 1 for down",
        );
      }
      const user = find(block, "user");
      if (user) note(user, "user: lvsq runs checks as the probe's user");
      return { ...check, type: "exec", command: splitCommand(path) };
    }
    case "SMTP_CHECK": {
      const helo = find(block, "helo_name")?.args[0];
      for (const host of findAll(block, "host"))
        note(host, "host blocks (other addresses to check): lvsq checks the real server only");
      return { ...check, type: "smtp", ...(helo ? { heloName: helo } : {}) };
    }
    case "DNS_CHECK":
      return {
        ...check,
        type: "dns",
        query: find(block, "name")?.args[0] ?? ".",
        queryType: (find(block, "type")?.args[0] ?? "SOA").toUpperCase(),
      };
    case "UDP_CHECK": {
      const out: Record<string, unknown> = { ...check, type: "udp" };
      const payload = find(block, "payload")?.args[0];
      if (payload) out.sendHex = payload.toLowerCase();
      const reply = find(block, "require_reply");
      if (reply) {
        const hex = reply.args[0];
        if (hex && /^[0-9a-f]+$/i.test(hex) && hex.length % 2 === 0) out.expectHex = hex.toLowerCase();
        else if (hex)
          note(reply, `require_reply ${hex}: patterns with X wildcards have no equivalent; any reply counts`);
      } else {
        out.requireReply = false;
      }
      for (const s of findAll(block, "min_reply_length", "max_reply_length"))
        note(s, `${s.keyword} has no equivalent`);
      return out;
    }
    case "PING_CHECK": {
      delete check.port;
      return { ...check, type: "icmp" };
    }
    default:
      return undefined;
  }
}
