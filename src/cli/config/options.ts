/**
 * The option table of `midge broker` config files, read from the command's own commander options (one source of truth
 * for the flags, the config-file validator and docs/midge-config.schema.json): the key is the flag's camelCase name,
 * integers carry their range (parsers made by `integer`), choices their list.
 */
import { type Command, InvalidArgumentError, type Option } from 'commander';

/** Options of the command that are not settings (never read from a file or the environment). */
export const NOT_SETTINGS = new Set(['help', 'config', 'checkConfig']);

export type ConfigType = 'integer' | 'string' | 'boolean';

export interface ConfigOption {
  key: string;
  flag: string;
  type: ConfigType;
  description: string;
  minimum?: number;
  maximum?: number;
  choices?: readonly string[];
  default?: unknown;
  /** The commander option (its parser validates a value). */
  option: Option;
}

interface Typed {
  configType?: ConfigType;
  range?: [number, number];
}

/** A commander parser of an integer in min..max that the option table recognizes. */
export function integer(min: number, max: number): (value: string) => number {
  const parse = (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
    return n;
  };
  return Object.assign(parse, { configType: 'integer', range: [min, max] } satisfies Typed);
}

/** A commander parser of true/false that the option table recognizes. */
export const bool = Object.assign(
  (value: string): boolean => {
    if (value === 'true') return true;
    if (value === 'false') return false;
    throw new InvalidArgumentError('expected true or false');
  },
  { configType: 'boolean' } satisfies Typed,
);

export function configOptions(command: Command): ConfigOption[] {
  const table: ConfigOption[] = [];
  for (const option of command.options) {
    const key = option.attributeName();
    if (NOT_SETTINGS.has(key)) continue;
    const typed = (option.parseArg ?? {}) as Typed;
    const takesValue = option.required || option.optional;
    const type: ConfigType = !takesValue ? 'boolean' : (typed.configType ?? 'string');
    const entry: ConfigOption = {
      key,
      flag: option.long ?? option.flags,
      type,
      description: option.description,
      option,
    };
    if (typed.range !== undefined) [entry.minimum, entry.maximum] = typed.range;
    if (option.argChoices !== undefined) entry.choices = option.argChoices;
    if (option.negate) entry.default = true;
    else if (option.defaultValue !== undefined) entry.default = option.defaultValue;
    table.push(entry);
  }
  return table;
}

/** The JSON Schema of a Midge config file (docs/midge-config.schema.json). */
export function configSchema(command: Command): object {
  const properties: Record<string, object> = {};
  for (const o of configOptions(command)) {
    const description = o.option.negate ? `false: ${o.description}` : o.description;
    properties[o.key] = {
      type: o.type,
      description: `${description} (${o.flag})`,
      ...(o.minimum === undefined ? {} : { minimum: o.minimum, maximum: o.maximum }),
      ...(o.choices === undefined ? {} : { enum: o.choices }),
      ...(o.default === undefined ? {} : { default: o.default }),
    };
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://github.com/midge/midge/docs/midge-config.schema.json',
    title: 'Midge broker configuration',
    description:
      'Configuration file of `midge broker --config FILE`: the keys are the flags in camelCase. Flags on the command ' +
      'line override it (docs/broker.md, Configuration files). Generated from the command options: npm run config-schema',
    type: 'object',
    additionalProperties: false,
    properties: { $schema: { type: 'string' }, ...properties },
  };
}
