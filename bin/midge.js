#!/usr/bin/env -S node --max-semi-space-size=4
// The young generation is capped at 4 MiB per semi-space (Node's default grows to 16 MiB): a broker holding many idle
// connections keeps ~3 KiB per connection instead of ~4.5 KiB, at no measured cost in throughput (docs/broker.md,
// "Memory"). Started as `node bin/midge.js`, pass the flag yourself (or NODE_OPTIONS) to get the same.
import('../dist/cli/main.js');
