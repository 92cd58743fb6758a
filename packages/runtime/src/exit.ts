/** Process exit codes. 78 is EX_CONFIG, so systemd's Restart=on-failure does not loop on a bad config. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 78,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
