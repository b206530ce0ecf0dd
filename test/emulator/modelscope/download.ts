// `modelscope download --model …` against a fake hub that holds moonshotai/Kimi-K2.5, following modelscope
// 1.36's snapshot_download: where files go, what is printed where, how partial files resume, and how failures
// look. Files are really written (large ones scaled down, see repo.ts) while progress reports real sizes.
//
// Time is compressed where the real tool would sleep: urllib3's retry back-off (0+2+4+8+16 s per file) is
// skipped, and after a fatal error the files still queued are not attempted (the real thread pool would try —
// and fail — each of them before the traceback appears).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DownloadArgs } from './args';
import type { FakeHubConfig } from './config';
import { asRegex, fnmatch } from './fnmatch';
import { logLine, type PyStdio } from './pyio';
import {
  contentSlice, diskBytesFor, diskSize, KIMI_K25_FILES, realBytesFor, REPO_ID, REVISION, REVISION_CREATED_AT, type RepoFile,
} from './repo';
import {
  diskFullTraceback, fileNotFoundTraceback, invalidRepoIdTraceback, keyboardInterruptTraceback, networkDropTraceback,
  maxWorkersTraceback, noRevisionTraceback, nothingToDownloadTraceback, repoNotFoundTraceback, type EntryPath,
} from './traceback';
import { Tqdm, TqdmGroup } from './tqdm';

export const TEMPORARY_FOLDER_NAME = '._____temp';
const TICK_MS = 25;

/** Where a download lands. `directory` is what modelscope prints (and, for a cache, a symlink to `store`). */
export interface Layout { directory: string; store: string; temp: string; symlinkWanted: boolean }

export function layoutFor(repoId: string, args: Pick<DownloadArgs, 'localDir' | 'cacheDir'>, cacheHome: string): Layout {
  // model_id_to_group_owner_name: an id without '/' belongs to the "damo" group.
  const [owner, name] = repoId.includes('/') ? [repoId.split('/')[0]!, repoId.split('/')[1]!] : ['damo', repoId];
  const masked = name.replaceAll('.', '___');
  if (args.localDir !== null) {
    return { directory: path.resolve(args.localDir), store: args.localDir, temp: path.join(args.localDir, TEMPORARY_FOLDER_NAME), symlinkWanted: false };
  }
  const root = args.cacheDir ?? path.join(cacheHome, 'models');
  return {
    directory: path.join(root, owner, name),
    store: path.join(root, owner, masked),
    temp: path.join(root, TEMPORARY_FOLDER_NAME, owner, name),
    symlinkWanted: repoId.includes('.'),
  };
}

/** The URL modelscope fetches a file from (quote_plus of path and revision). */
export function fileUrl(endpoint: string, repoId: string, filePath: string): string {
  const q = (s: string) => encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${endpoint}/api/v1/models/${repoId}/repo?Revision=${q(REVISION)}&FilePath=${q(filePath)}`;
}

interface Job {
  file: RepoFile;
  bar: Tqdm;
  fd: number;
  tempPath: string;
  finalPath: string;
  real: number;
  disk: number;
}

type Failure = { kind: 'disk-full' | 'network-drop'; job: Job };

export class DownloadRun {
  private readonly group: TqdmGroup;
  private overall: Tqdm | undefined;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  private entry: EntryPath = 'snapshot';
  private readonly t0 = performance.now();

  private readonly args: DownloadArgs;

  constructor(args: DownloadArgs, private readonly config: FakeHubConfig, private readonly io: PyStdio) {
    this.args = DownloadRun.resolveRepo(args);
    let ncols: number | undefined;
    let nrows: number | undefined;
    if (io.stderrIsTty) {
      ncols = process.stderr.columns;
      nrows = process.stderr.rows;
    } else if (/^\d+$/.test(process.env.COLUMNS ?? '') && /^\d+$/.test(process.env.LINES ?? '')) {
      // tqdm's fallback when the stream has no size: $COLUMNS/$LINES minus one.
      ncols = Number(process.env.COLUMNS) - 1;
      nrows = Number(process.env.LINES) - 1;
    }
    this.group = new TqdmGroup({ write: (s) => io.stderr(s), now: () => this.now(), ncols, nrows });
  }

  private now(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** Runs to completion; resolves with the exit code (SIGINT ends the process from within). */
  run(): Promise<number> {
    process.on('SIGINT', () => this.interrupt());
    const a = this.args;
    if (!a.model && !a.dataset && !a.collection) return Promise.resolve(this.crash(nothingToDownloadTraceback()));
    if (!a.model) {
      // Only a model repository exists on the fake hub; datasets and collections are simply not found.
      return Promise.resolve(this.notFound(a.dataset ?? a.collection ?? ''));
    }
    const repoId = a.model;
    this.entry = a.files.length === 1 ? 'singleFile' : a.files.length > 1 ? 'snapshotFiles' : 'snapshot';
    const layout = layoutFor(repoId, a, this.config.cacheHome);
    // modelscope creates its temp folder (and the cache's model folder) before it asks the hub anything.
    fs.mkdirSync(layout.temp, { recursive: true });
    if (a.localDir === null) fs.mkdirSync(layout.store, { recursive: true });
    if (repoId.split('/').length !== 2) return Promise.resolve(this.crash(invalidRepoIdTraceback(this.entry, a.repoType)));
    if (repoId.toLowerCase() !== REPO_ID.toLowerCase() || this.config.failure === 'unknown-model') return Promise.resolve(this.notFound(repoId));
    const endpoint = this.config.domain ? `https://${this.config.domain}` : 'https://www.modelscope.cn';
    if (this.entry !== 'singleFile') this.io.print(`Downloading Model from ${endpoint} to directory: ${layout.directory}`);
    if (a.revision !== null && a.revision !== REVISION) {
      return Promise.resolve(this.crash(noRevisionTraceback(this.entry, repoId, a.revision)));
    }
    let files: RepoFile[];
    if (this.entry === 'singleFile') {
      const wanted = KIMI_K25_FILES.find((f) => f.path === a.files[0]);
      if (!wanted) return Promise.resolve(this.crash(fileNotFoundTraceback(a.files[0]!, repoId)));
      files = this.isComplete(wanted, layout) ? [] : [wanted];
    } else {
      files = this.select(layout);
    }
    return this.download(repoId, endpoint, layout, files);
  }

  /** DownloadCMD.execute: the optional positional repo_id is the first FILE when --model/--dataset is given,
   *  otherwise it names the repository (of --repo-type). */
  private static resolveRepo(args: DownloadArgs): DownloadArgs {
    const a = { ...args, files: [...args.files] };
    if (a.model || a.dataset) {
      if (a.repoId !== null) a.files.unshift(a.repoId);
    } else if (a.repoId !== null) {
      if (a.repoType === 'model') a.model = a.repoId;
      else a.dataset = a.repoId;
    }
    return a;
  }

  /** modelscope's _download_file_lists filter: exclude globs (and exclude patterns that are valid regexes,
   *  searched in the base name), include globs, then files already in place are skipped. */
  private select(layout: Layout): RepoFile[] {
    const norm = (ps: string[] | null): string[] | null => (ps ? ps.map((p) => (p.endsWith('/') ? `${p}*` : p)) : null);
    const split = (ps: string[] | null): string[] | null => (ps ? ps.flatMap((p) => (p.includes(',') ? p.split(',').map((s) => s.trim()) : [p.trim()])) : null);
    const allow = norm(this.entry === 'snapshotFiles' ? this.args.files : split(this.args.include));
    const ignore = norm(this.entry === 'snapshotFiles' ? null : split(this.args.exclude));
    const ignoreRegex = (ignore ?? []).map(asRegex).filter((r): r is RegExp => r !== undefined);
    return KIMI_K25_FILES.filter((f) => {
      if (ignore && ignore.some((p) => fnmatch(f.path, p))) return false;
      if (ignoreRegex.some((r) => r.test(path.posix.basename(f.path)))) return false;
      if (allow && allow.length && !allow.some((p) => fnmatch(f.path, p))) return false;
      return !this.isComplete(f, layout);
    });
  }

  private isComplete(file: RepoFile, layout: Layout): boolean {
    try {
      return fs.statSync(path.join(layout.store, file.path)).size === diskSize(file, this.config.scale);
    } catch {
      return false;
    }
  }

  private notFound(repoId: string): number {
    const cn = 'https://www.modelscope.cn';
    const ai = 'https://www.modelscope.ai';
    if (this.config.domain) {
      this.io.stderr(logLine('ERROR', `Repo ${repoId} does not exist on https://${this.config.domain}.`));
    } else {
      this.io.stderr(logLine('WARNING', `Repo ${repoId} not exists on ${cn}, will try on alternative endpoint ${ai}.`));
      this.io.stderr(logLine('ERROR', `Repo ${repoId} not exists on either ${cn} or ${ai}`));
    }
    return this.crash(repoNotFoundTraceback(this.entry, this.config.domain !== null));
  }

  /** An uncaught Python exception: traceback on stderr, buffered stdout flushed, exit status 1. */
  private crash(traceback: string): number {
    this.io.stderr(traceback);
    this.io.flush();
    return 1;
  }

  private download(repoId: string, endpoint: string, layout: Layout, files: RepoFile[]): Promise<number> {
    const single = this.entry === 'singleFile';
    if (files.length === 0) return Promise.resolve(this.succeed(repoId, layout));
    if (!single) {
      this.io.stderr(logLine('INFO', `Got ${files.length} files, start to download ...`));
      // thread_executor's bar: unit_scale with a 1024 divisor, so 9 of 78 items reads "9.00/78.0".
      this.overall = new Tqdm(this.group, { desc: `Processing ${files.length} items`, total: files.length, unitScale: true, unitDivisor: 1024 });
      if (this.args.maxWorkers < 1) {
        // ThreadPoolExecutor refuses the pool inside the `with tqdm(...)` block, which closes the bar on the way out.
        this.overall.close();
        return Promise.resolve(this.crash(maxWorkersTraceback(this.entry)));
      }
    }
    const queue = [...files];
    const active: Job[] = [];
    const workers = single ? 1 : this.args.maxWorkers;
    const runBytes = files.reduce((sum, f) => sum + f.size - this.partialReal(f, layout), 0);
    const failAfter = this.config.failure === 'disk-full' || this.config.failure === 'network-drop'
      ? (this.config.failAfterBytes ?? Math.floor(runBytes / 2))
      : Infinity;
    let downloaded = 0;
    let carry = 0;
    let last = this.now();

    return new Promise<number>((resolve) => {
      const startJobs = () => {
        while (active.length < workers && queue.length) active.push(this.startJob(queue.shift()!, layout));
      };
      const complete = (job: Job) => {
        job.bar.close();
        fs.closeSync(job.fd);
        fs.mkdirSync(path.dirname(job.finalPath), { recursive: true });
        fs.renameSync(job.tempPath, job.finalPath);
        active.splice(active.indexOf(job), 1);
        this.overall?.update(1);
      };
      const fail = (failure: Failure) => {
        for (const job of active) fs.closeSync(job.fd);
        this.overall?.close();
        const url = fileUrl(endpoint, repoId, failure.job.file.path);
        resolve(this.crash(failure.kind === 'disk-full'
          ? diskFullTraceback(this.entry, url)
          : networkDropTraceback(this.entry, url, failure.job.file.size - failure.job.real)));
      };
      const tick = () => {
        if (this.finished) return;
        const now = this.now();
        let budget = this.config.bytesPerSec * (now - last) + carry;
        last = now;
        // The link is shared equally by the parallel downloads; what a finishing file leaves over carries on.
        const share = Math.floor(budget / Math.max(1, active.length));
        for (const job of [...active]) {
          let amount = Math.min(share, job.file.size - job.real);
          let failure: Failure | undefined;
          if (downloaded + amount >= failAfter && failAfter !== Infinity) {
            amount = Math.max(0, failAfter - downloaded);
            failure = { kind: this.config.failure as Failure['kind'], job };
          }
          this.advance(job, amount);
          budget -= amount;
          downloaded += amount;
          if (failure) {
            this.finished = true;
            fail(failure);
            return;
          }
          if (job.real >= job.file.size) complete(job);
        }
        carry = Math.max(0, Math.min(budget, this.config.bytesPerSec));
        startJobs();
        if (!active.length) {
          this.finished = true;
          this.overall?.close();
          resolve(this.succeed(repoId, layout));
          return;
        }
        this.timer = setTimeout(tick, TICK_MS);
      };
      startJobs();
      // Files that were already fully downloaded in the temp folder finish at once.
      for (const job of [...active]) if (job.real >= job.file.size) complete(job);
      startJobs();
      this.timer = setTimeout(tick, TICK_MS);
    });
  }

  private partialReal(file: RepoFile, layout: Layout): number {
    try {
      return realBytesFor(file, this.config.scale, fs.statSync(path.join(layout.temp, file.path)).size);
    } catch {
      return 0;
    }
  }

  /** http_get_model_file: a bar per file; an existing partial file counts as already downloaded (Range request). */
  private startJob(file: RepoFile, layout: Layout): Job {
    const bar = new Tqdm(this.group, {
      desc: `Downloading [${file.path}]`, total: file.size > 0 ? file.size : 1, unit: 'B', unitScale: true, unitDivisor: 1024,
    });
    const tempPath = path.join(layout.temp, file.path);
    fs.mkdirSync(path.dirname(tempPath), { recursive: true });
    let disk = 0;
    try {
      disk = fs.statSync(tempPath).size;
    } catch {
      /* no partial file */
    }
    const full = diskSize(file, this.config.scale);
    if (disk > full) {
      // Longer than the file: the real tool would treat it as complete and fail the hash check; keep it simple.
      fs.truncateSync(tempPath, full);
      disk = full;
    }
    const real = realBytesFor(file, this.config.scale, disk);
    if (real > 0) bar.update(real);
    const fd = fs.openSync(tempPath, 'a');
    return { file, bar, fd, tempPath, finalPath: path.join(layout.store, file.path), real, disk };
  }

  private advance(job: Job, amount: number): void {
    if (amount <= 0) return;
    job.real += amount;
    const target = diskBytesFor(job.file, this.config.scale, job.real);
    if (target > job.disk) {
      fs.writeSync(job.fd, contentSlice(job.file, job.disk, target));
      job.disk = target;
    }
    job.bar.update(amount);
  }

  private succeed(repoId: string, layout: Layout): number {
    const single = this.entry === 'singleFile';
    if (!single) {
      if (this.overall) this.io.stderr(logLine('INFO', `Download model '${repoId}' successfully.`));
      if (repoId.includes('.')) {
        if (fs.existsSync(layout.directory)) {
          this.io.stderr(logLine('INFO', 'Target directory already exists, skipping creation.'));
        } else if (layout.symlinkWanted) {
          this.io.stderr(logLine('INFO', `Creating symbolic link [${layout.directory}].`));
          fs.symlinkSync(path.resolve(layout.store), layout.directory, 'dir');
        }
      }
      // ModelFileSystemCache.save_model_version: a plain-text revision marker in the model folder.
      fs.writeFileSync(path.join(layout.store, '.mv'), `Revision:${REVISION},CreatedAt:${REVISION_CREATED_AT}`);
    }
    this.io.print(`\nSuccessfully Downloaded from model ${repoId}.\n`);
    this.io.flush();
    return 0;
  }

  /** Ctrl-C: Python raises KeyboardInterrupt in the main thread; the `with tqdm(...)` block closes the overall
   *  bar, the traceback is printed, buffers are flushed and the interpreter re-raises SIGINT on itself, so the
   *  parent sees "killed by SIGINT" (a shell shows status 130). Partial files stay in the temp folder. */
  private interrupt(): void {
    const downloading = this.overall !== undefined || this.entry === 'singleFile';
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.overall?.close();
    this.io.stderr(keyboardInterruptTraceback(this.entry, downloading));
    this.io.flush();
    process.removeAllListeners('SIGINT');
    process.kill(process.pid, 'SIGINT');
  }
}
