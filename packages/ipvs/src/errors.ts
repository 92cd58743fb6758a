import { type IpvsTable, LvsqError } from "@lvsq/protocol";
import type { IpvsOp } from "./ops.js";
import { renderRestore } from "./render.js";

export type IpvsadmErrorDetails = {
  /** The full command, program first (`ip netns exec a ipvsadm -R` in a namespace). */
  argv: readonly string[];
  /** undefined when the process did not exit by itself (not found, killed on timeout). */
  exitCode: number | undefined;
  stderr: string;
  /** Ops whose effect is not in the kernel table read after the failure (all of them if unknown). */
  notApplied: readonly IpvsOp[];
  /** The table re-read after the failure, when that read worked. */
  observed?: IpvsTable | undefined;
  cause?: unknown;
};

/** A failed ipvsadm call: callers log argv/exit/stderr, mark the table dirty and reconcile later. */
export class IpvsadmError extends LvsqError {
  override name = "IpvsadmError";
  readonly argv: readonly string[];
  readonly exitCode: number | undefined;
  readonly stderr: string;
  readonly notApplied: readonly IpvsOp[];
  readonly observed: IpvsTable | undefined;

  constructor(summary: string, details: IpvsadmErrorDetails) {
    super("ipvsadm_failed", describe(summary, details), { cause: details.cause });
    this.argv = details.argv;
    this.exitCode = details.exitCode;
    this.stderr = details.stderr;
    this.notApplied = details.notApplied;
    this.observed = details.observed;
  }
}

function describe(summary: string, details: IpvsadmErrorDetails): string {
  const parts = [`${summary}: \`${details.argv.join(" ")}\` exit ${details.exitCode ?? "none"}`];
  const stderr = details.stderr.trim();
  if (stderr !== "") parts.push(`stderr: ${cut(stderr.replaceAll("\n", "; "), 512)}`);
  if (details.notApplied.length > 0) {
    const lines = renderRestore(details.notApplied.slice(0, 5)).trim().split("\n");
    const more = details.notApplied.length > 5 ? ` (+${details.notApplied.length - 5} more)` : "";
    parts.push(`${details.notApplied.length} op(s) did not take: ${lines.join("; ")}${more}`);
  }
  return parts.join("; ");
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
