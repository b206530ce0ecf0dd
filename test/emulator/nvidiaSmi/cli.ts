// Entry point of the fake `nvidia-smi` (test/emulator/bin/nvidia-smi runs this file compiled).
// Configuration comes from KIMI_FAKE_* environment variables so it works the same through SSH.
import { runNvidiaSmi } from './smi';

const result = runNvidiaSmi(process.argv.slice(2), process.env);
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
// exitCode (not exit()) lets piped stdout drain before the process ends.
process.exitCode = result.code;
