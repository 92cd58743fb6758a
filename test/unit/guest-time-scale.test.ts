import { describe, expect, it } from "vitest";
import { guestTimeScale } from "../harness/in-guest.js";

describe("the guest's time scale", () => {
  it("is 1 outside QEMU's emulation, and a value given on the host is kept as it is", () => {
    expect(guestTimeScale({ LVSQ_GUEST_ACCEL: "kvm" }, { tcgAtLeast: 3 })).toBe(1);
    expect(guestTimeScale({ LVSQ_GUEST_ACCEL: "tcg", LVSQ_GUEST_TIME_SCALE: "2.5" }, { tcgAtLeast: 3 })).toBe(
      2.5,
    );
  });

  it("under TCG is measured between 2 and 5, raised to a scenario floor, and handed on to children", () => {
    const env: NodeJS.ProcessEnv = { LVSQ_GUEST_ACCEL: "tcg" };
    const measured = guestTimeScale({ ...env });
    expect(measured).toBeGreaterThanOrEqual(2);
    expect(measured).toBeLessThanOrEqual(5);
    // 5 is above every measured scale (they are clamped to 5), so the floor always decides.
    expect(guestTimeScale(env, { tcgAtLeast: 5 })).toBe(5);
    expect(env.LVSQ_GUEST_TIME_SCALE).toBe("5");
    expect(Number(env.LVSQ_GUEST_NODE_START_MS)).toBeGreaterThan(0);
  });
});
