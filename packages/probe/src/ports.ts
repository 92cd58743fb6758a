import type { Bus } from "@lvsq/bus";
import type { CheckRunner as Checks } from "@lvsq/checks";

/** What the probe needs from the checks: one run, never rejecting (`createCheckRunner().run`). */
export type CheckRunner = Checks["run"];

/** What the probe needs from the bus: publish, and connection state to republish everything on return. */
export type ProbeBus = Pick<Bus, "publish" | "isConnected" | "onStatus">;
