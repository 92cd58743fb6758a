import { z } from "zod";

/** Ids appear inside NATS subjects and KV keys, so they are restricted to subject-safe tokens. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]+$/;
export const Token = z
  .string()
  .regex(TOKEN_PATTERN, {
    message: "expected letters, digits, '_' or '-' only (the id is used in NATS subjects)",
  })
  .max(64);
