// Entry point of the fake `vllm` executable (test/emulator/bin/vllm runs this after `tsc`).
//   vllm --version | -v           print the version
//   vllm --help | -h              top-level help
//   vllm serve [MODEL] [options]  see serve.ts
// Other subcommands exist in real vLLM but are not emulated: the fake says so and exits 2.
import { ArgparseExit, SUBCOMMANDS, parseServeArgs, topError } from './args';
import { serveHelp, topHelp } from './help';
import { Output } from './logfmt';
import { runServe } from './serve';
import { readSettings } from './settings';

function write(stream: 'stdout' | 'stderr', text: string): void {
  (stream === 'stdout' ? process.stdout : process.stderr).write(text);
}

async function main(argv: string[]): Promise<number> {
  const settings = readSettings(process.env);
  const out = new Output({
    version: settings.version,
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    noColor: Boolean(process.env.NO_COLOR),
    write,
  });
  try {
    const first = argv[0];
    if (first === undefined) {
      write('stdout', topHelp());
      return 0;
    }
    if (first === '-v' || first === '--version') {
      write('stdout', `${settings.version}\n`);
      return 0;
    }
    if (first === '-h' || first === '--help' || first.startsWith('--help=')) {
      write('stdout', topHelp());
      return 0;
    }
    if (first.startsWith('-')) {
      // The top-level parser knows only -h/-v; anything else before the subcommand is unrecognized…
      // unless a subcommand follows, in which case argparse complains about the unknown option at the end.
      throw topError(`unrecognized arguments: ${first}`);
    }
    if (!SUBCOMMANDS.includes(first)) {
      throw topError(
        `argument subparser: invalid choice: '${first}' (choose from ${SUBCOMMANDS.map((s) => `'${s}'`).join(', ')})`,
      );
    }
    if (first !== 'serve') {
      write('stderr', `fake vllm: \`vllm ${first}\` is not emulated (only \`vllm serve\`, \`--version\` and \`--help\` are)\n`);
      return 2;
    }
    const parsed = parseServeArgs(argv.slice(1));
    if (parsed.help !== null) {
      write('stdout', serveHelp(parsed.help));
      return 0;
    }
    return await runServe(parsed, settings, out, process.env);
  } catch (e) {
    if (e instanceof ArgparseExit) {
      write('stderr', e.stderr.join('\n') + '\n');
      return e.code;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fake vllm crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
