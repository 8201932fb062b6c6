/**
 * Config files and environment variables of `midge broker`. Precedence, lowest first: the defaults, the config file
 * (--config), MIDGE_<OPTION> environment variables, flags on the command line.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { type LoadedConfig, loadConfig } from './load.js';
import { configOptions } from './options.js';

export { configSchema } from './options.js';

/** MIDGE_MAX_INFLIGHT for maxInflight. */
export function environmentName(key: string): string {
  return `MIDGE_${key.replace(/[A-Z]/g, '_$&').toUpperCase()}`;
}

/** Lets every option that takes a value be set by MIDGE_<OPTION> (flags without a value are left out). */
export function addEnvironmentVariables(command: Command): void {
  for (const o of configOptions(command)) {
    if (!o.option.required && !o.option.optional) continue;
    const name = environmentName(o.key);
    o.option.env(name);
    // Commander listens for the variable only on options that had .env() when added: listen here instead.
    command.on(`optionEnv:${o.option.name()}`, (raw: string) => {
      let value: unknown = raw;
      try {
        if (o.option.parseArg !== undefined) value = o.option.parseArg(raw, undefined);
      } catch (error) {
        if (!(error instanceof InvalidArgumentError)) throw error;
        command.error(`error: ${name}=${raw}: ${error.message}`, { exitCode: 1 });
      }
      command.setOptionValueWithSource(o.key, value, 'env');
    });
  }
}

/**
 * Reads `file` and, if it has no error, sets the options the command line and the environment did not set (source
 * 'config'). Returns what was read, with the errors.
 */
export function applyConfigFile(command: Command, file: string): LoadedConfig {
  const loaded = loadConfig(file, configOptions(command));
  if (loaded.errors.length > 0) return loaded;
  for (const { key, value } of loaded.settings) {
    const source = command.getOptionValueSource(key);
    if (source === 'cli' || source === 'env') continue;
    command.setOptionValueWithSource(key, value, 'config');
  }
  return loaded;
}

/** The --check-config summary: one line per option the file sets. */
export function describeConfig(loaded: LoadedConfig): string {
  const format = loaded.format === 'midge' ? 'Midge JSON' : 'mosquitto.conf';
  const lines = [`${loaded.file}: valid ${format} config, ${loaded.settings.length} options`];
  for (const s of loaded.settings) {
    const from = s.name === s.key ? '' : ` (${s.name})`;
    lines.push(`  ${s.key} = ${JSON.stringify(s.value)}  line ${s.line}${from}`);
  }
  return `${lines.join('\n')}\n`;
}
