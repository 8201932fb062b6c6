/** The `midge` command line. */
import { Command } from 'commander';
import { VERSION } from '../broker/version.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerBrokerCommand } from './commands/broker.js';
import { registerPasswdCommand } from './commands/passwd.js';
import { registerPubCommand } from './commands/pub.js';
import { registerSubCommand } from './commands/sub.js';

export function buildProgram(): Command {
  // Positional options: `-V` (version) and `-h` of the program are not taken from a subcommand's arguments, where
  // `midge pub -V 5 -h host` means what it means to mosquitto_pub.
  const program = new Command('midge').description('MQTT broker and tools').version(VERSION).enablePositionalOptions();
  registerBrokerCommand(program);
  registerPasswdCommand(program);
  registerPubCommand(program);
  registerSubCommand(program);
  registerBenchCommand(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
