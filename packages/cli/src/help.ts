/** Help text shared by several commands' options. Light on purpose: the entry imports it (see program.ts). */

/** The help line of `--metrics-auth` / `--web-auth`. */
export const AUTH_FILE_HELP =
  "only answer requests with a credential from FILE: `bearer TOKEN` or `basic USER:PASSWORD` lines (docs/operations.md)";

/** The help line of `--metrics`. */
export const METRICS_HELP = "serve Prometheus metrics on http://HOST:PORT/metrics (PORT alone: loopback)";

/** The help line of `--dry-run` (lvsq run, lvsq director). */
export const DRY_RUN_HELP = "read the kernel table but only log the ipvsadm commands it would run";
