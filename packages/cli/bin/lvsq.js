#!/usr/bin/env node
// The bundled entry (packages/cli/scripts/bundle.mjs): a process start reads it and the bundle of the command
// it runs, not hundreds of modules.
import "../dist/lvsq.mjs";
