// Entry point of the fake `modelscope` CLI (test/emulator/bin/modelscope runs this file compiled).
// Like modelscope 1.36: the ASCII banner on stdout first, then argparse, then the command.
import { parseCommandLine } from './args';
import { configFromEnv, FakeConfigError } from './config';
import { DownloadRun } from './download';
import { PyStdio } from './pyio';

const BANNER = `
 _   .-')                _ .-') _     ('-.             .-')                              _ (\`-.    ('-.
( '.( OO )_             ( (  OO) )  _(  OO)           ( OO ).                           ( (OO  ) _(  OO)
 ,--.   ,--.).-'),-----. \\     .'_ (,------.,--.     (_)---\\_)   .-----.  .-'),-----.  _.\`     \\(,------.
 |   \`.'   |( OO'  .-.  ',\`'--..._) |  .---'|  |.-') /    _ |   '  .--./ ( OO'  .-.  '(__...--'' |  .---'
 |         |/   |  | |  ||  |  \\  ' |  |    |  | OO )\\  :\` \`.   |  |('-. /   |  | |  | |  /  | | |  |
 |  |'.'|  |\\_) |  |\\|  ||  |   ' |(|  '--. |  |\`-' | '..\`''.) /_) |OO  )\\_) |  |\\|  | |  |_.' |(|  '--.
 |  |   |  |  \\ |  | |  ||  |   / : |  .--'(|  '---.'.-._)   \\ ||  |\`-'|   \\ |  | |  | |  .___.' |  .--'
 |  |   |  |   \`'  '-'  '|  '--'  / |  \`---.|      | \\       /(_'  '--'\\    \`'  '-'  ' |  |      |  \`---.
 \`--'   \`--'     \`-----' \`-------'  \`------'\`------'  \`-----'    \`-----'      \`-----'  \`--'      \`------'
`;

async function main(): Promise<number> {
  let config;
  try {
    config = configFromEnv(process.env);
  } catch (e) {
    // A broken test setup, not something the real tool could say: loud and distinct.
    if (e instanceof FakeConfigError) {
      process.stderr.write(`fake modelscope: ${e.message}\n`);
      return 255;
    }
    throw e;
  }
  const io = new PyStdio(config.unbufferedStdout);
  io.print(BANNER);
  const parsed = parseCommandLine(process.argv.slice(2));
  switch (parsed.kind) {
    case 'exit':
      io.write(parsed.stdout);
      io.stderr(parsed.stderr);
      io.flush();
      return parsed.code;
    case 'otherCommand':
      io.flush();
      io.stderr(`fake modelscope: only the download command is emulated, not "${parsed.command}"\n`);
      return 2;
    case 'download':
      return new DownloadRun(parsed.args, config, io).run();
  }
}

main().then((code) => {
  process.exitCode = code;
}, (e: unknown) => {
  process.stderr.write(`fake modelscope crashed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 70;
});
