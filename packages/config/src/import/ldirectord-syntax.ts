import { readFileSync } from "node:fs";
import { endpoint, type Source } from "./common.js";

/** One `key = value` line of ldirectord.cf; indented under a `virtual=` it belongs to that virtual. */
export type Option = { key: string; value: string; at: Source };
export type Virtual = { target: string; at: Source; options: Option[] };

/** ldirectord's gates as lvsq forwarding methods. */
export const GATES: Record<string, string> = { gate: "dr", masq: "nat", ipip: "tunnel" };

/**
 * Reads ldirectord.cf into its global options and its virtuals: `#` starts a comment, an indented option
 * after a `virtual=` line is that virtual's, anything else is global. A line that is not `key = value` is
 * kept as a global with key `?`, to be noted.
 */
export function readLdirectord(file: string): { globals: Option[]; virtuals: Virtual[] } {
  const globals: Option[] = [];
  const virtuals: Virtual[] = [];
  readFileSync(file, "utf8")
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const at = { file, line: i + 1 };
      const text = raw.replace(/(^|\s)#.*$/, "").trimEnd();
      if (text.trim() === "") return;
      const match = /^(\s*)([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(text);
      if (!match) {
        globals.push({ key: "?", value: text.trim(), at });
        return;
      }
      const option = { key: match[2]!.toLowerCase(), value: match[3]!.trim(), at };
      if (option.key === "virtual" || option.key === "virtual6")
        virtuals.push({ target: option.value, at, options: [] });
      else if (match[1] !== "" && virtuals.length > 0) virtuals.at(-1)!.options.push(option);
      else globals.push(option);
    });
  return { globals, virtuals };
}

/** One real server of a `real=` line (a range gives several); request and receive override the virtual's. */
export type Real = {
  address: string;
  forwarding: string;
  weight: number;
  request?: string;
  receive?: string;
  lower?: number;
  upper?: number;
};

/** `real=ip[:port][->ip2] gate|masq|ipip [weight] ["request", "receive"] [l:N] [u:N]`. */
export function parseReal(option: Option, note: (at: Source, text: string) => void): Real[] {
  const quoted = [...option.value.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  const words = option.value
    .replace(/"[^"]*"/g, " ")
    .split(/[\s,]+/)
    .filter(Boolean);
  const [target, gate, ...rest] = words;
  const forwarding = GATES[gate ?? "gate"] ?? "dr";
  let weight = 1;
  let lower: number | undefined;
  let upper: number | undefined;
  for (const word of rest) {
    if (/^\d+$/.test(word)) weight = Number(word);
    else if (/^l:\d+$/.test(word)) lower = Number(word.slice(2));
    else if (/^u:\d+$/.test(word)) upper = Number(word.slice(2));
  }
  const range = /^(\d+\.\d+\.\d+\.)(\d+)->(\d+\.\d+\.\d+\.)(\d+)(:\d+)?$/.exec(target ?? "");
  const extra = {
    forwarding,
    weight,
    ...(lower !== undefined ? { lower } : {}),
    ...(upper !== undefined ? { upper } : {}),
  };
  const check = {
    ...(quoted[0] !== undefined ? { request: quoted[0] } : {}),
    ...(quoted[1] !== undefined ? { receive: quoted[1] } : {}),
  };
  if (range && range[1] === range[3]) {
    const from = Number(range[2]);
    const to = Number(range[4]);
    return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => ({
      address: `${range[1]}${from + i}${range[5] ?? ""}`,
      ...extra,
      ...check,
    }));
  }
  if (!target || /[a-z]/i.test(target.split(":")[0]!.replace(/\[.*\]/, ""))) {
    note(option.at, `real=${option.value}: host names are not resolved by lvsq; write the address`);
    return [];
  }
  return [
    {
      address: target.startsWith("[") || !target.includes("::") ? target : endpoint(target, undefined),
      ...extra,
      ...check,
    },
  ];
}
