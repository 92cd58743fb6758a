#!/usr/bin/env node
// One bundled file (packages/cli/scripts/bundle.mjs): a process start reads one module, not hundreds.
import "../dist/lvsq.mjs";
