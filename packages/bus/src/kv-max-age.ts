/**
 * Whether opening a bucket whose max age is `currentMs` (0: none) with `wantedMs` (0: no wish) changes
 * it. Only upwards: lowering the max age makes the server expire at once every key older than the new
 * age, such as the lease a holder with the longer lease time still counts on (a rolling `leaseTtl`
 * change). The holder lowers it itself after a renewal (`Kv.setMaxAge`, lease.ts).
 */
export function raisesMaxAge(currentMs: number, wantedMs: number): boolean {
  return wantedMs > 0 && wantedMs !== currentMs && (currentMs === 0 || wantedMs > currentMs);
}
