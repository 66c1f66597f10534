// What every `amc` subcommand module exports, and the error type that means "tell the user, exit 2".

export interface CliIO {
  /** Write to stdout, waiting when the pipe is full (large outputs stay within memory). */
  out(text: string): Promise<void>;
  /** Write a diagnostic line to stderr. */
  err(text: string): void;
  /** `--verbose` was given (any command): print raw details such as onnxruntime's provider error. */
  verbose?: boolean;
}

export interface CliCommand {
  /** One line for `amc --help`. */
  summary: string;
  /** Usage text shown by `amc CMD --help` and after a usage error. */
  usage: string;
  /** Run with the arguments after the command name; resolves to the exit code. */
  run(args: string[], io: CliIO): Promise<number>;
}

/** A bad command line: printed as one line plus the usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * node:util parseArgs reports an unknown option as `Unknown option '--x'. To specify a positional argument
 * starting with a '-', place it at the end of the command after '--', as in '-- "--x"` (quotes unbalanced in
 * the terminal). Say instead which option is unknown and where the options are listed; other messages pass.
 */
export function friendlyUsageMessage(message: string, command: string): { message: string; showUsage: boolean } {
  const unknown = /^Unknown option '([^']*)'/.exec(message);
  if (unknown) return { message: `unknown option ${unknown[1]} (see 'amc ${command} --help')`, showUsage: false };
  return { message: message.split('\n')[0], showUsage: true };
}

/** Parse a non-negative integer option value or throw a UsageError naming the option. */
export function intOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a non-negative integer, got '${value}'`);
  return Number(value);
}
