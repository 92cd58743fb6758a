import { createMemoryDriver, type IpvsDriver, renderCommands } from "@lvsq/ipvs";
import type { Logger } from "@lvsq/runtime";

/**
 * `--dry-run`: reads the real kernel table once (read-only; an empty table if ipvsadm cannot read it),
 * then plans against an in-memory copy and logs the ipvsadm commands it would have run, without running them.
 */
export function createDryRunDriver(real: IpvsDriver, logger: Logger, ipvsadm: string): IpvsDriver {
  let memory: ReturnType<typeof createMemoryDriver> | undefined;
  const ensure = async () => {
    if (memory) return memory;
    try {
      memory = createMemoryDriver(await real.read());
    } catch (error) {
      logger.warn(
        { err: error instanceof Error ? error.message : error },
        "dry-run: cannot read the kernel table; starting from an empty one",
      );
      memory = createMemoryDriver();
    }
    return memory;
  };
  return {
    async read() {
      return (await ensure()).read();
    },
    async apply(ops) {
      const commands = renderCommands(ops, ipvsadm);
      logger.info({ op: "dry-run", commands }, `dry-run: would run ${commands.length} ipvsadm command(s)`);
      return (await ensure()).apply(ops);
    },
  };
}
