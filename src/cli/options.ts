// The one command-line parser of every `amc` command, and the option values shared by the commands that run the
// model (explain, eval, demo): threads and the file-size cap.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_MAX_FILE_BYTES } from '../core/boundedRead';
import { errorMessage } from '../core/errors';
import { maxThreads, threadsRange } from '../core/threads';
import { UsageError } from './command';

/** Options whose value may be a negative number the user typed by mistake (`--threads -1`): see joinNegativeValues. */
const NUMBER_OPTIONS_WITH_RANGE_CHECK = ['threads', 'max-file-mb'];

/**
 * Parses a command's arguments (everything after `amc CMD`) strictly against its options. Any parse error is a
 * UsageError, which main.ts prints as one line (an unknown option as `amc CMD: unknown option --foo (see 'amc CMD
 * --help')`, see friendlyUsageMessage) and exit code 2.
 */
export function parseCommandArgs<const O extends NonNullable<ParseArgsConfig['options']>, const P extends boolean = false>(
  args: readonly string[], options: O, allowPositionals?: P,
) {
  const negatable = Object.keys(options).filter((name) => NUMBER_OPTIONS_WITH_RANGE_CHECK.includes(name));
  try {
    return parseArgs({ args: joinNegativeValues(args, negatable), options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}

/** Default of `--max-file-mb` (the setting amc.maxFileMB has the same default). */
export const DEFAULT_MAX_FILE_MB = DEFAULT_MAX_FILE_BYTES / (1024 * 1024);

/**
 * util.parseArgs reads the `-1` of `--threads -1` as an option of its own ("ambiguous" error). A negative-number
 * value of one of `names` is joined to its flag (`--threads=-1`) so the option's own check can name the range.
 */
export function joinNegativeValues(args: readonly string[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (names.some((n) => args[i] === `--${n}`) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${args[i]}=${next}`);
      i++;
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

/** `--threads N`: 0 (onnxruntime chooses) or 1..4 × cores (at most 64); anything else is a usage error. */
export function threadsOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > maxThreads()) {
    throw new UsageError(`--threads must be ${threadsRange()}, got '${value}'`);
  }
  return Number(value);
}

/** `--max-file-mb N` (whole MB, at least 1) as bytes; default 256 MB. */
export function maxFileBytesOption(value: string | undefined): number {
  if (value === undefined) return DEFAULT_MAX_FILE_BYTES;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--max-file-mb must be a whole number of MB, at least 1, got '${value}'`);
  return Number(value) * 1024 * 1024;
}
