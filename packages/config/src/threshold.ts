import { z } from "zod";

/** `majority`, `all`, an absolute count `N`, or a share `"N%"` of the configured voters. */
export const Threshold = z.union(
  [
    z.literal("majority"),
    z.literal("all"),
    z.number().int().min(1, { message: 'expected "majority", "all", a count N >= 1, or a share like "50%"' }),
    z.string().regex(/^(100|[1-9]\d?)%$/, {
      message: 'expected "majority", "all", a count N >= 1, or a share "N%" with N in 1-100',
    }),
  ],
  { error: 'expected "majority", "all", a count N >= 1, or a share like "50%"' },
);
export type Threshold = z.infer<typeof Threshold>;

/**
 * How many of `total` voters a threshold needs. A share rounds up (50% of 3 sites = 2), `majority` is more
 * than half. The result may exceed `total` for an absolute N; the config checks reject that.
 */
export function thresholdCount(threshold: Threshold, total: number): number {
  if (threshold === "majority") return Math.floor(total / 2) + 1;
  if (threshold === "all") return total;
  if (typeof threshold === "number") return threshold;
  const percent = Number(threshold.slice(0, -1));
  return Math.max(1, Math.ceil((total * percent) / 100));
}
