import type { CheckConfig } from "@lvsq/config";

/** What the probe needs from a check implementation (@lvsq/checks provides it). Never rejects. */
export type CheckRunner = (
  check: CheckConfig,
  target: { address: string; service: string },
  options: { signal: AbortSignal },
) => Promise<{
  verdict: "up" | "down" | "abstain";
  latencyMs: number;
  reason: string;
  weight?: number | undefined;
}>;

/** What the probe needs from the bus (@lvsq/bus provides it). */
export type ProbeBus = {
  publish(subject: string, payload: unknown): void;
  isConnected(): boolean;
  /** Called on every connection change; the probe re-publishes its full state when it comes back. */
  onConnectionChange(listener: (connected: boolean) => void): () => void;
};
