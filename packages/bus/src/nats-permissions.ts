import { buckets, kvKeys, subjects } from "@lvsq/protocol";

export type FleetIdentities = {
  cluster: string;
  probes: readonly { id: string }[];
  directors: readonly { id: string; pair?: string | undefined }[];
};

export type NatsAuthorizationOptions = {
  /** The user of `lvsq admin` (default `lvsq-operator`). */
  operator?: string;
  /** The read-only user of `lvsq status`, `lvsq explain`, dashboards and exporters (default `lvsq-viewer`). */
  viewer?: string;
  /** user → nkey public key (`U…`): these users log in with an nkey instead of a password. */
  nkeys?: Readonly<Record<string, string>>;
};

export type UserPermissions = {
  user: string;
  role: "probe" | "director" | "operator" | "viewer";
  publish: string[];
  subscribe: string[];
  /** May answer requests it received (a director answering `lvsq explain`), and nothing else on inboxes. */
  allowResponses: boolean;
};

/** The environment variable holding one NATS user's password, e.g. LVSQ_NATS_PASS_PROBE_DC1. */
export function passwordVariable(user: string): string {
  return `LVSQ_NATS_PASS_${user.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/**
 * What reading one KV bucket takes on the JetStream API of nats-server 2.9: account info, stream info (the
 * client checks the bucket exists), direct and classic message gets, ordered consumers for watch / keys /
 * history (created with the 2.9 extended subject or the classic one), their info and delete, and answering
 * their flow-control requests. None of these writes a key.
 */
function kvRead(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [
    "$JS.API.INFO",
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.*`,
    `$JS.API.CONSUMER.DELETE.${stream}.*`,
    `$JS.FC.${stream}.>`,
  ];
}
/** Creating a bucket on first use (an existing one with the same settings is left as it is). */
const kvCreate = (bucket: string) => `$JS.API.STREAM.CREATE.KV_${bucket}`;
/** Putting, creating, updating or deleting keys matching `key` (a KV write is a publish on its subject). */
const kvWrite = (bucket: string, key: string) => `$KV.${bucket}.${key}`;
const unique = (list: string[]) => [...new Set(list)];

/**
 * Least-privilege permissions for every user of a fleet, derived from the subjects and buckets lvsq uses
 * (protocol's names.ts), so they cannot drift:
 * - a probe publishes only its own votes and status, and subscribes to nothing;
 * - a director publishes only its own status, events, and its own pair's lease and desired keys; it reads
 *   every bucket, receives votes and its own explain requests, and may answer them;
 * - the operator (`lvsq admin`) writes the admin bucket and otherwise only reads;
 * - the viewer (`lvsq status`, `lvsq explain`, dashboards, exporters) reads and asks, never writes.
 * A refused publish is dropped by nats-server and reported only to its sender.
 */
export function fleetPermissions(
  fleet: FleetIdentities,
  options: NatsAuthorizationOptions = {},
): UserPermissions[] {
  const c = fleet.cluster;
  const all = [buckets.leases(c), buckets.desired(c), buckets.admin(c)];
  const readAll = unique(all.flatMap(kvRead));
  const watchFleet = [subjects.allVotes(c), subjects.allStatus(c), subjects.allEvents(c), "_INBOX.>"];
  const viewerPublish = [...readAll, subjects.explain(c, "*")];
  const users: UserPermissions[] = [];
  for (const probe of fleet.probes) {
    users.push({
      user: probe.id,
      role: "probe",
      publish: [subjects.probeVotes(c, probe.id), subjects.probeStatus(c, probe.id)],
      subscribe: [],
      allowResponses: false,
    });
  }
  for (const director of fleet.directors) {
    const pair = director.pair;
    users.push({
      user: director.id,
      role: "director",
      publish: [
        subjects.directorStatus(c, director.id),
        subjects.allEvents(c),
        ...readAll,
        ...all.map(kvCreate),
        // the lease bucket's max age follows director.leaseTtl: the first director after a change aligns it
        `$JS.API.STREAM.UPDATE.KV_${buckets.leases(c)}`,
        ...(pair === undefined
          ? []
          : [
              kvWrite(buckets.leases(c), kvKeys.lease(pair)),
              kvWrite(buckets.desired(c), kvKeys.desired(pair, ">")),
            ]),
      ],
      subscribe: [
        subjects.allVotes(c),
        subjects.explain(c, director.id),
        // its partners' heartbeats: they report the connections their kernels hold for draining servers
        ...fleet.directors
          .filter((d) => pair !== undefined && d.pair === pair && d.id !== director.id)
          .map((d) => subjects.directorStatus(c, d.id)),
        "_INBOX.>",
      ],
      allowResponses: true,
    });
  }
  users.push({
    user: options.operator ?? "lvsq-operator",
    role: "operator",
    publish: [...viewerPublish, kvCreate(buckets.admin(c)), kvWrite(buckets.admin(c), ">")],
    subscribe: watchFleet,
    allowResponses: false,
  });
  users.push({
    user: options.viewer ?? "lvsq-viewer",
    role: "viewer",
    publish: viewerPublish,
    subscribe: watchFleet,
    allowResponses: false,
  });
  return users;
}

/**
 * A nats-server `authorization` block for a fleet (fleetPermissions, written out per user: nats-server 2.9
 * config-file users have no account JWTs here, which is why it is generated from the fleet config). A user
 * logs in with an nkey when `options.nkeys` has its public key, else with a password that nats-server reads
 * from its environment (`$LVSQ_NATS_PASS_<USER>`), never written into the file.
 */
export function natsAuthorization(fleet: FleetIdentities, options: NatsAuthorizationOptions = {}): string {
  const json = (value: unknown) => JSON.stringify(value);
  const lines = fleetPermissions(fleet, options).map((u) => {
    const nkey = options.nkeys?.[u.user];
    const login = nkey
      ? `nkey: ${json(nkey)}`
      : `user: ${json(u.user)}, password: $${passwordVariable(u.user)}`;
    const subscribe = u.subscribe.length > 0 ? `{ allow: ${json(u.subscribe)} }` : `{ deny: [">"] }`;
    const responses = u.allowResponses ? ", allow_responses: true" : "";
    return (
      `    # ${u.role} ${u.user}\n` +
      `    { ${login}, permissions: { publish: { allow: ${json(u.publish)} }, subscribe: ${subscribe}${responses} } }`
    );
  });
  return [
    `# lvsq: NATS users for cluster ${fleet.cluster}, generated by \`lvsq nats-config\` from the fleet config.`,
    "# Least privilege: a probe publishes only its own votes and status; a director only its own status,",
    "# events and its pair's lease and desired keys; the operator also the admin bucket; the viewer nothing.",
    "authorization {",
    "  users = [",
    ...lines,
    "  ]",
    "}",
    "",
  ].join("\n");
}
