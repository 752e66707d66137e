#!/usr/bin/env -S node --max-semi-space-size=2 --no-wasm-tier-up --expose-gc
// The installed command (package.json bin, dist/cli.js): a stable path for units and images; the command line is in cli/.
import './cli/main.js'
