import { formatDuration } from "./duration.js";
import type { ConfigProblem, FleetConfig } from "./fleet-config.js";
import { planForwardingPins, TIME_WAIT_MS } from "./forwarding-pins.js";

const MAX_FWMARK = 4294967295;

/**
 * The checks of a forwarding probe's block against the services it will pin: its fwmarks must not be any
 * service's, its source-port blocks must fit below 65536, and a port must not come round again while the
 * last connection from it is still in TIME_WAIT (the check would abstain, never vote).
 */
export function forwardingProblems(config: Pick<FleetConfig, "probes" | "services">): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  config.probes.forEach((probe, i) => {
    const settings = probe.forwarding;
    if (settings === undefined) return;
    const at = (field: string) => ["probes", i, "forwarding", field];
    const vipOwner = Object.entries(config.services).find(([, s]) =>
      s.vip?.startsWith(`${settings.source}:`),
    );
    if (vipOwner !== undefined) {
      problems.push({
        path: at("source"),
        message: `${settings.source} is service "${vipOwner[0]}"'s VIP: a real server would answer it to itself; expected the director's own address toward the real servers`,
      });
    }
    const { pins } = planForwardingPins(config, probe.id, settings);
    if (pins.length === 0) return;
    const lastMark = settings.firstFwmark + pins.length - 1;
    if (lastMark > MAX_FWMARK) {
      problems.push({
        path: at("firstFwmark"),
        message: `${pins.length} pins need fwmarks ${settings.firstFwmark}..${lastMark}; the last fwmark is ${MAX_FWMARK}`,
      });
    }
    for (const [id, service] of Object.entries(config.services)) {
      if (
        service.fwmark !== undefined &&
        service.fwmark >= settings.firstFwmark &&
        service.fwmark <= lastMark
      ) {
        problems.push({
          path: at("firstFwmark"),
          message: `the pins' fwmarks ${settings.firstFwmark}..${lastMark} include service "${id}"'s fwmark ${service.fwmark}`,
        });
      }
    }
    const crowded = pins.reduce((worst, pin) => (pin.lastPort > worst.lastPort ? pin : worst));
    if (crowded.lastPort > 65535) {
      const servers = pins.filter((p) => p.vip === crowded.vip && p.port === crowded.port).length;
      problems.push({
        path: at("portsPerServer"),
        message: `${servers} real servers behind ${crowded.vip}:${crowded.port} need ${servers} × ${settings.portsPerServer} source ports from ${settings.firstPort}, past 65535: lower portsPerServer or firstPort`,
      });
    }
    const reported = new Set<string>();
    for (const pin of pins) {
      const intervalMs = config.services[pin.service]!.check.intervalMs;
      if (reported.has(pin.service) || (settings.portsPerServer - 1) * intervalMs >= TIME_WAIT_MS) continue;
      reported.add(pin.service);
      const needed = Math.ceil(TIME_WAIT_MS / intervalMs) + 1;
      problems.push({
        path: at("portsPerServer"),
        message: `service "${pin.service}" checks every ${formatDuration(intervalMs)}, so ${settings.portsPerServer} ports per server come round within TIME_WAIT (60s): expected at least ${needed}`,
      });
    }
  });
  return problems;
}
