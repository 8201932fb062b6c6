/** Writes docs/midge-config.schema.json from the options of `midge broker` (npm run config-schema). */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerBrokerCommand } from '../src/cli/commands/broker.js';
import { configSchema } from '../src/cli/config/index.js';

const program = new Command('midge');
registerBrokerCommand(program);
const broker = program.commands.find((c) => c.name() === 'broker');
if (broker === undefined) throw new Error('no broker command');
writeFileSync(
  new URL('../docs/midge-config.schema.json', import.meta.url),
  `${JSON.stringify(configSchema(broker), null, 2)}\n`,
);
