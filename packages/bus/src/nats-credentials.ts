import { readFile, stat, writeFile } from "node:fs/promises";
import { LvsqError } from "@lvsq/protocol";
import { type Authenticator, credsAuthenticator, nkeyAuthenticator, nkeys } from "@nats-io/transport-node";

export type CredentialsFile = {
  authenticator: Authenticator;
  /** `creds`: a JWT + seed file (nats-server operator mode); `nkey`: a seed for a config-file nkey user. */
  kind: "creds" | "nkey";
  /** The file can be read by every local user (it should be 0600 or 0640 root:lvsq). */
  worldReadable: boolean;
};

/** An nkey user seed: "SU" and 56 more base32 characters (what `lvsq nats-config --nkeys` writes). */
const USER_SEED = /^SU[A-Z2-7]{56}$/;

/**
 * Reads a NATS credentials file of either kind lvsq supports and returns the authenticator for it:
 * a `.creds` file (user JWT + nkey seed, for servers in operator/JWT mode) or a file holding one nkey user
 * seed (for nats-server 2.9 config-file users with `nkey:`). `label` names the file in errors
 * (`nats.creds /etc/lvsq/nats/p1.nk`). Throws an LvsqError a person can act on; never logs the secret.
 */
export async function readCredentialsFile(path: string, label = path): Promise<CredentialsFile> {
  let bytes: Buffer;
  let mode: number;
  try {
    [bytes, mode] = await Promise.all([readFile(path), stat(path).then((s) => s.mode)]);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : String(code ?? cause);
    throw new LvsqError("config_invalid", `${label}: cannot read the NATS credentials: ${why}`, { cause });
  }
  const worldReadable = (mode & 0o004) !== 0;
  const text = bytes.toString("utf8");
  if (text.includes("-----BEGIN NATS USER JWT-----")) {
    return { authenticator: credsAuthenticator(new Uint8Array(bytes)), kind: "creds", worldReadable };
  }
  const lines = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const seed = lines.length === 1 && USER_SEED.test(lines[0]!) ? lines[0]! : undefined;
  if (seed !== undefined) {
    try {
      nkeys.fromSeed(new TextEncoder().encode(seed));
    } catch (cause) {
      throw new LvsqError("config_invalid", `${label}: the nkey seed does not decode (a typo?)`, { cause });
    }
    return { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)), kind: "nkey", worldReadable };
  }
  throw new LvsqError(
    "config_invalid",
    `${label}: expected a NATS .creds file (user JWT and seed) or one nkey user seed (a line starting with SU, ` +
      "as `lvsq nats-config --nkeys` writes)",
  );
}

/**
 * The public key (`U…`) of the nkey user whose seed is in `file`; with `create`, a missing file gets a new
 * seed first (mode 0600, never overwritten: `wx`). Used by `lvsq nats-config --nkeys DIR`.
 */
export async function userNkey(
  file: string,
  create: boolean,
): Promise<{ publicKey: string; created: boolean }> {
  const read = async () => {
    const text = (await readFile(file, "utf8")).trim();
    if (!USER_SEED.test(text)) {
      throw new LvsqError("config_invalid", `${file}: expected one nkey user seed (a line starting with SU)`);
    }
    return nkeys.fromSeed(new TextEncoder().encode(text)).getPublicKey();
  };
  try {
    return { publicKey: await read(), created: false };
  } catch (error) {
    if (!create || (error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const user = nkeys.createUser();
  await writeFile(file, `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600, flag: "wx" });
  return { publicKey: user.getPublicKey(), created: true };
}
