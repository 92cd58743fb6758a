/**
 * Every NATS subject and KV bucket name lvsq uses, built here and nowhere else, so permissions, docs and
 * code cannot drift apart. Ids are validated as tokens ([A-Za-z0-9_-]) before they reach these builders.
 */
const root = (cluster: string) => `lvsq.${cluster}`;

export const subjects = {
  votes: (cluster: string, probe: string, service: string) => `${root(cluster)}.votes.${probe}.${service}`,
  allVotes: (cluster: string) => `${root(cluster)}.votes.>`,
  probeVotes: (cluster: string, probe: string) => `${root(cluster)}.votes.${probe}.>`,
  probeStatus: (cluster: string, probe: string) => `${root(cluster)}.status.probe.${probe}`,
  directorStatus: (cluster: string, director: string) => `${root(cluster)}.status.director.${director}`,
  allStatus: (cluster: string) => `${root(cluster)}.status.>`,
  allDirectorStatus: (cluster: string) => `${root(cluster)}.status.director.>`,
  allProbeStatus: (cluster: string) => `${root(cluster)}.status.probe.>`,
  events: (cluster: string, service: string) => `${root(cluster)}.events.${service}`,
  allEvents: (cluster: string) => `${root(cluster)}.events.>`,
  /** request/reply: `lvsq explain` asks a director for its reasons. */
  explain: (cluster: string, director: string) => `${root(cluster)}.explain.${director}`,
} as const;

/** Splits a votes subject back into its probe and service (for the subject/payload consistency check). */
export function parseVotesSubject(
  subject: string,
): { cluster: string; probe: string; service: string } | undefined {
  const parts = subject.split(".");
  if (parts.length !== 5 || parts[0] !== "lvsq" || parts[2] !== "votes") return undefined;
  return { cluster: parts[1]!, probe: parts[3]!, service: parts[4]! };
}

export const buckets = {
  leases: (cluster: string) => `lvsq_${cluster}_leases`,
  desired: (cluster: string) => `lvsq_${cluster}_desired`,
  admin: (cluster: string) => `lvsq_${cluster}_admin`,
} as const;

export const kvKeys = {
  lease: (pair: string) => pair,
  desired: (pair: string, service: string) => `${pair}.${service}`,
  /** KV keys allow [-/_=.A-Za-z0-9]: an rs `[2001:db8::1]:80` becomes `2001_db8__1_80`-like text. */
  admin: (service: string, rs: string) => `${service}.${rs.replace(/[^A-Za-z0-9_-]/g, "_")}`,
} as const;
