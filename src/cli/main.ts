// `amc`: the headless CLI. A small dispatcher; each subcommand is a module in ./commands exporting
// CliCommand's members. Adding a command is one line in COMMANDS.
import type { CliCommand, CliIO } from './command';
import { friendlyUsageMessage, UsageError } from './command';
import { errorMessage } from '../core/errors';

const COMMANDS: Record<string, () => Promise<CliCommand>> = {
  samples: () => import('./commands/samples'),
  lint: () => import('./commands/lint'),
  explain: () => import('./commands/explain'),
  eval: () => import('./commands/eval'),
  demo: () => import('./commands/demo'),
  python: () => import('./commands/python'),
  insights: () => import('./commands/insights'),
  import: () => import('./commands/import'),
};

const io: CliIO = {
  out: (text) => new Promise<void>((resolve, reject) => {
    if (process.stdout.write(text)) resolve();
    else {
      const onDrain = (): void => { process.stdout.off('error', onError); resolve(); };
      const onError = (err: Error): void => { process.stdout.off('drain', onDrain); reject(err); };
      process.stdout.once('drain', onDrain);
      process.stdout.once('error', onError);
    }
  }),
  err: (text) => { process.stderr.write(text.endsWith('\n') ? text : `${text}\n`); },
};

async function helpText(): Promise<string> {
  const lines = ['usage: amc <command> [options]', '', 'commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${(await load()).summary}`);
  lines.push('', "run 'amc <command> --help' for a command's options; --verbose (any command) adds raw details");
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  // --verbose is common to every command, so it is taken out here rather than declared by each parser.
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  io.verbose = argv.slice(0, end).includes('--verbose');
  const [name, ...args] = argv.filter((a, i) => a !== '--verbose' || i > end);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.err : (t: string) => void io.out(`${t}\n`))(await helpText());
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.err(`amc: unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
    return 2;
  }
  const command = await load();
  if (args.includes('--help') || args.includes('-h')) {
    await io.out(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') return 0; // reader went away (amc samples | head)
    const message = errorMessage(err);
    if (err instanceof UsageError) {
      const friendly = friendlyUsageMessage(message, name);
      io.err(`amc ${name}: ${friendly.message}`);
      if (friendly.showUsage) io.err(command.usage);
      return 2;
    }
    io.err(`amc ${name}: ${message.split('\n')[0]}`);
    if ((io.verbose || process.env.AMC_DEBUG) && err instanceof Error && err.stack) io.err(err.stack);
    return 2;
  }
}

if (require.main === module) {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(0); });
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
    process.stderr.write(`amc: ${errorMessage(err)}\n`);
    process.exitCode = 2;
  });
}
