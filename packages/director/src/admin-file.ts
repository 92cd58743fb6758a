import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { AdminRecord, kvKeys } from "@lvsq/protocol";

/**
 * Where `lvsq run` keeps operators' overrides on the node, so they survive restarts the way the admin KV
 * bucket does for a fleet: `$LVSQ_STATE_DIR/<cluster>.admin.json`, default /var/lib/lvsq.
 */
export function adminFilePath(cluster: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(env.LVSQ_STATE_DIR ?? "/var/lib/lvsq", `${cluster}.admin.json`);
}

/**
 * The overrides of a standalone node in one JSON file, written whole on each change through a temporary
 * file and a rename, so a crash leaves the old file or the new one, never half of one. Records that fail
 * the schema are skipped and reported, never applied.
 */
export class AdminFile {
  constructor(readonly path: string) {}

  /** The records in the file; a missing file has none. Throws only for a file that is not ours at all. */
  load(): { records: AdminRecord[]; invalid: string[] } {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { records: [], invalid: [] };
      throw error;
    }
    // The file's shape: { v: 1, records: { <service>.<rs>: AdminRecord } }; `enable` removes a record.
    const content = safeJson(text) as { v?: unknown; records?: unknown } | undefined;
    if (content?.v !== 1 || typeof content.records !== "object" || content.records === null) {
      throw new Error(`${this.path} is not an lvsq admin file (expected {"v":1,"records":{…}})`);
    }
    const records: AdminRecord[] = [];
    const invalid: string[] = [];
    for (const [key, value] of Object.entries(content.records)) {
      const record = AdminRecord.safeParse(value);
      if (record.success) records.push(record.data);
      else invalid.push(key);
    }
    return { records, invalid };
  }

  /** Stores `record` (an `enable` deletes the override) and returns the record it replaced, if any. */
  save(record: AdminRecord): AdminRecord | undefined {
    const { records } = this.load();
    const key = kvKeys.admin(record.service, record.rs);
    const byKey = new Map(records.map((r) => [kvKeys.admin(r.service, r.rs), r]));
    const previous = byKey.get(key);
    if (record.action === "enable") byKey.delete(key);
    else byKey.set(key, record);
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify({ v: 1, records: Object.fromEntries(byKey) }, null, 1)}\n`, {
      mode: 0o600,
    });
    renameSync(temporary, this.path);
    return previous;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
