import type { IpvsTable } from "@lvsq/protocol";
import type { ApplyResult, IpvsDriver } from "./driver.js";
import { IpvsadmError } from "./errors.js";
import { applyOpToTable, cloneTable, type KernelModelOptions, opsNotTaken } from "./kernel-model.js";
import { normalizeService } from "./normalize.js";
import type { IpvsOp } from "./ops.js";

export type MemoryDriver = IpvsDriver & {
  /** Every batch applied so far, for assertions and for printing a dry-run. */
  readonly batches: readonly (readonly IpvsOp[])[];
};

/**
 * An in-process kernel table with the kernel's rules (unknown scheduler refused, a real server needs
 * its service, duplicate add and missing delete reported) and the ipvsadm driver's outcome rules:
 * refused writes whose effect is already there are warnings, any other refusal an IpvsadmError.
 */
export function createMemoryDriver(initial?: IpvsTable, options: KernelModelOptions = {}): MemoryDriver {
  const table: IpvsTable = { services: (initial?.services ?? []).map(normalizeService) };
  const batches: IpvsOp[][] = [];
  return {
    batches,
    async read() {
      return cloneTable(table);
    },
    async apply(ops) {
      const started = performance.now();
      batches.push([...ops]);
      const messages: string[] = [];
      for (const op of ops) {
        const refused = applyOpToTable(table, structuredClone(op), options);
        if (refused !== undefined) messages.push(refused);
      }
      const result: ApplyResult = {
        applied: ops.length,
        durationMs: performance.now() - started,
        warnings: messages,
      };
      if (messages.length === 0) return result;
      const notApplied = opsNotTaken(ops, table);
      if (notApplied.length === 0) return result;
      throw new IpvsadmError("memory ipvs apply failed", {
        argv: ["(memory)", "-R"],
        exitCode: 255,
        stderr: messages.join("\n"),
        notApplied,
        observed: cloneTable(table),
      });
    },
  };
}
