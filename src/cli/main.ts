/** The `midge` command line. */
import { Command } from 'commander';
import { VERSION } from '../broker/version.js';
import { registerBrokerCommand } from './commands/broker.js';
import { registerPasswdCommand } from './commands/passwd.js';

export function buildProgram(): Command {
  const program = new Command('midge').description('MQTT broker and tools').version(VERSION);
  registerBrokerCommand(program);
  registerPasswdCommand(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
