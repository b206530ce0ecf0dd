// Python 3.12 traceback rendering, so failures end the way a real `vllm serve` ends: frames, carets under the
// failing call, then `ExceptionType: message` as the last line(s).

export const SITE = '/usr/local/lib/python3.12/dist-packages';
export const PYLIB = '/usr/lib/python3.12';

export interface Frame {
  file: string;
  line: number;
  func: string;
  /** The source line (already stripped of indentation); omitted for frames without source (Cython). */
  code?: string;
  /** Sub-expression of `code` to underline with ^ (Python 3.12 underlines only part of a line). */
  under?: string;
}

export function vllmFile(rel: string): string {
  return `${SITE}/vllm/${rel}`;
}

/** The lines Python prints for `frames` ending in `exception` (which may span several lines). */
export function renderTraceback(frames: Frame[], exception: string, header = 'Traceback (most recent call last):'): string[] {
  const lines = [header];
  for (const f of frames) {
    lines.push(`  File "${f.file}", line ${f.line}, in ${f.func}`);
    if (f.code === undefined) continue;
    lines.push(`    ${f.code}`);
    if (f.under) {
      const at = f.code.indexOf(f.under);
      if (at >= 0 && f.under.length < f.code.length) lines.push(`    ${' '.repeat(at)}${'^'.repeat(f.under.length)}`);
    }
  }
  lines.push(...exception.split('\n'));
  return lines;
}

/** From `/usr/local/bin/vllm` down to the event loop running `run_server` (vLLM 0.15, single API server). */
export function apiServerEntryFrames(): Frame[] {
  return [
    { file: '/usr/local/bin/vllm', line: 10, func: '<module>', code: 'sys.exit(main())', under: 'main()' },
    { file: vllmFile('entrypoints/cli/main.py'), line: 73, func: 'main', code: 'args.dispatch_function(args)' },
    { file: vllmFile('entrypoints/cli/serve.py'), line: 60, func: 'cmd', code: 'uvloop.run(run_server(args))' },
    { file: `${SITE}/uvloop/__init__.py`, line: 109, func: 'run', code: 'return __asyncio.run(', under: '__asyncio.run(' },
    { file: `${PYLIB}/asyncio/runners.py`, line: 195, func: 'run', code: 'return runner.run(main)', under: 'runner.run(main)' },
    {
      file: `${PYLIB}/asyncio/runners.py`,
      line: 118,
      func: 'run',
      code: 'return self._loop.run_until_complete(task)',
      under: 'self._loop.run_until_complete(task)',
    },
    { file: 'uvloop/loop.pyx', line: 1518, func: 'uvloop.loop.Loop.run_until_complete' },
    { file: `${SITE}/uvloop/__init__.py`, line: 61, func: 'wrapper', code: 'return await main', under: 'await main' },
  ];
}
