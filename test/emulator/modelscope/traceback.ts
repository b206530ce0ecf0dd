// Python tracebacks as modelscope 1.36 (pip-installed under Python 3.10) prints them, with chained exceptions.
// File names and line numbers follow the real sources of modelscope 1.36.0, requests 2.32 and urllib3 2.x.

const SITE = '/usr/local/lib/python3.10/dist-packages';
const STDLIB = '/usr/lib/python3.10';

export interface Frame { file: string; line: number; func: string; code: string }

const f = (file: string, line: number, func: string, code: string): Frame => ({ file, line, func, code });
const ms = (rel: string, line: number, func: string, code: string) => f(`${SITE}/modelscope/${rel}`, line, func, code);

/** How the CLI reached the download code. */
export type EntryPath = 'snapshot' | 'snapshotFiles' | 'singleFile';

function entryFrames(path: EntryPath): Frame[] {
  const head = [
    f('/usr/local/bin/modelscope', 8, '<module>', 'sys.exit(run_cmd())'),
    ms('cli/cli.py', 57, 'run_cmd', 'cmd.execute()'),
  ];
  if (path === 'singleFile') {
    return [
      ...head,
      ms('cli/download.py', 142, 'execute', 'model_file_download('),
      ms('hub/file_download.py', 91, 'model_file_download', 'return _repo_file_download('),
    ];
  }
  return [
    ...head,
    ms('cli/download.py', path === 'snapshotFiles' ? 152 : 162, 'execute', 'snapshot_download('),
    ms('hub/snapshot_download.py', 137, 'snapshot_download', 'return _snapshot_download('),
  ];
}

/** Main-thread frames down to the worker that downloaded `file` (snapshot) or straight into it (single file). */
function downloadFrames(path: EntryPath): Frame[] {
  if (path === 'singleFile') {
    return [
      ...entryFrames(path),
      ms('hub/file_download.py', 318, '_repo_file_download', 'return download_file(url_to_download, file_to_download_meta,'),
      ms('hub/file_download.py', 727, 'download_file', 'file_digest = http_get_model_file('),
    ];
  }
  return [
    ...entryFrames(path),
    ms('hub/snapshot_download.py', 345, '_snapshot_download', '_download_file_lists('),
    ms('hub/snapshot_download.py', 605, '_download_file_lists', '_download_single_file(filtered_repo_files)'),
    ms('utils/thread_utils.py', 76, 'wrapper', 'results.append(future.result())'),
    f(`${STDLIB}/concurrent/futures/_base.py`, 451, 'result', 'return self.__get_result()'),
    f(`${STDLIB}/concurrent/futures/_base.py`, 403, '__get_result', 'raise self._exception'),
    f(`${STDLIB}/concurrent/futures/thread.py`, 58, 'run', 'result = self.fn(*self.args, **self.kwargs)'),
    ms('hub/snapshot_download.py', 591, '_download_single_file', 'download_file('),
    ms('hub/file_download.py', 727, 'download_file', 'file_digest = http_get_model_file('),
  ];
}

export interface ChainLink { frames: Frame[]; exception: string }

/** Renders a chain oldest-first; `joins[i]` is how link i+1 relates to link i. */
export function renderChain(links: ChainLink[], joins: ('cause' | 'context')[]): string {
  const parts: string[] = [];
  links.forEach((link, i) => {
    if (i > 0) {
      parts.push(joins[i - 1] === 'cause'
        ? '\nThe above exception was the direct cause of the following exception:\n\n'
        : '\nDuring handling of the above exception, another exception occurred:\n\n');
    }
    parts.push('Traceback (most recent call last):\n');
    for (const fr of link.frames) parts.push(`  File "${fr.file}", line ${fr.line}, in ${fr.func}\n    ${fr.code}\n`);
    parts.push(`${link.exception}\n`);
  });
  return parts.join('');
}

const RETRY_FRAMES = (path: EntryPath): Frame[] => [
  ...downloadFrames(path),
  ms('hub/file_download.py', 614, 'http_get_model_file', "retry = retry.increment('GET', url, error=e)"),
  f(`${SITE}/urllib3/util/retry.py`, 519, 'increment', 'raise MaxRetryError(_pool, url, reason) from reason  # type: ignore[arg-type]'),
];

/** Disk full: every retry's write fails, urllib3's Retry gives up with MaxRetryError caused by the OSError. */
export function diskFullTraceback(path: EntryPath, url: string): string {
  return renderChain([
    {
      frames: [ms('hub/file_download.py', 607, 'http_get_model_file', 'f.write(chunk)')],
      exception: 'OSError: [Errno 28] No space left on device',
    },
    {
      frames: RETRY_FRAMES(path),
      exception: `urllib3.exceptions.MaxRetryError: None: Max retries exceeded with url: ${url} (Caused by OSError(28, 'No space left on device'))`,
    },
  ], ['cause']);
}

/** The connection keeps breaking mid-body: the last retry's IncompleteRead → ProtocolError → requests'
 *  ChunkedEncodingError, then MaxRetryError once the retries are used up. */
export function networkDropTraceback(path: EntryPath, url: string, remaining: number): string {
  const incomplete = `IncompleteRead(0 bytes read, ${remaining} more expected)`;
  const protocolArgs = `('Connection broken: ${incomplete}', ${incomplete})`;
  return renderChain([
    {
      frames: [
        f(`${SITE}/urllib3/response.py`, 754, '_error_catcher', 'yield'),
        f(`${SITE}/urllib3/response.py`, 900, '_raw_read', 'raise IncompleteRead(self._fp_bytes_read, self.length_remaining)'),
      ],
      exception: `urllib3.exceptions.IncompleteRead: ${incomplete}`,
    },
    {
      frames: [
        f(`${SITE}/requests/models.py`, 820, 'generate', 'yield from self.raw.stream(chunk_size, decode_content=True)'),
        f(`${SITE}/urllib3/response.py`, 1066, 'stream', 'data = self.read(amt=amt, decode_content=decode_content)'),
        f(`${SITE}/urllib3/response.py`, 983, 'read', 'data = self._raw_read(amt)'),
        f(`${SITE}/urllib3/response.py`, 878, '_raw_read', 'with self._error_catcher():'),
        f(`${STDLIB}/contextlib.py`, 153, '__exit__', 'self.gen.throw(typ, value, traceback)'),
        f(`${SITE}/urllib3/response.py`, 778, '_error_catcher', 'raise ProtocolError(arg, e) from e'),
      ],
      exception: `urllib3.exceptions.ProtocolError: ${protocolArgs}`,
    },
    {
      frames: [
        ms('hub/file_download.py', 602, 'http_get_model_file', 'for chunk in r.iter_content('),
        f(`${SITE}/requests/models.py`, 822, 'generate', 'raise ChunkedEncodingError(e)'),
      ],
      exception: `requests.exceptions.ChunkedEncodingError: ${protocolArgs}`,
    },
    {
      frames: RETRY_FRAMES(path),
      exception: `urllib3.exceptions.MaxRetryError: None: Max retries exceeded with url: ${url} ` +
        `(Caused by ChunkedEncodingError(ProtocolError('Connection broken: ${incomplete}', ${incomplete})))`,
    },
  ], ['cause', 'context', 'cause']);
}

/** Ctrl-C while the main thread waits for the download threads. */
export function keyboardInterruptTraceback(path: EntryPath, downloading: boolean): string {
  const frames = downloading && path !== 'singleFile'
    ? [
      ...entryFrames(path),
      ms('hub/snapshot_download.py', 345, '_snapshot_download', '_download_file_lists('),
      ms('hub/snapshot_download.py', 605, '_download_file_lists', '_download_single_file(filtered_repo_files)'),
      ms('utils/thread_utils.py', 66, 'wrapper', 'for future in as_completed(futures):'),
      f(`${STDLIB}/concurrent/futures/_base.py`, 245, 'as_completed', 'waiter.event.wait(wait_timeout)'),
      f(`${STDLIB}/threading.py`, 607, 'wait', 'signaled = self._cond.wait(timeout)'),
      f(`${STDLIB}/threading.py`, 320, 'wait', 'waiter.acquire()'),
    ]
    : [
      ...downloadFrames(path),
      ms('hub/file_download.py', 602, 'http_get_model_file', 'for chunk in r.iter_content('),
      f(`${SITE}/requests/models.py`, 820, 'generate', 'yield from self.raw.stream(chunk_size, decode_content=True)'),
      f(`${STDLIB}/ssl.py`, 1303, 'recv_into', 'return self.read(nbytes, buffer)'),
    ];
  return renderChain([{ frames, exception: 'KeyboardInterrupt' }], []);
}

/** The repository does not exist on either site (or on $MODELSCOPE_DOMAIN). */
export function repoNotFoundTraceback(path: EntryPath, domainSet: boolean): string {
  const lookup = path === 'singleFile'
    ? ms('hub/file_download.py', 224, '_repo_file_download', 'endpoint = _api.get_endpoint_for_read(')
    : ms('hub/snapshot_download.py', 310, '_snapshot_download', 'endpoint = _api.get_endpoint_for_read(');
  const check = domainSet
    ? ms('hub/api.py', 538, 'get_endpoint_for_read',
      'self.repo_exists(repo_id=repo_id, repo_type=repo_type, endpoint=endpoint, re_raise=True, token=token)')
    : ms('hub/api.py', 552, 'get_endpoint_for_read', 'self.repo_exists(');
  return renderChain([{
    frames: [...entryFrames(path), lookup, check, ms('hub/api.py', 710, 'repo_exists', 'raise HTTPError(r)')],
    exception: 'requests.exceptions.HTTPError: <Response [404]>',
  }], []);
}

/** A repo id without exactly one '/' (modelscope's message names the repo type, not the id — a real bug). */
export function invalidRepoIdTraceback(path: EntryPath, repoType: string): string {
  const lookup = path === 'singleFile'
    ? ms('hub/file_download.py', 224, '_repo_file_download', 'endpoint = _api.get_endpoint_for_read(')
    : ms('hub/snapshot_download.py', 310, '_snapshot_download', 'endpoint = _api.get_endpoint_for_read(');
  return renderChain([{
    frames: [
      ...entryFrames(path), lookup,
      ms('hub/api.py', 546, 'get_endpoint_for_read', 'if not self.repo_exists('),
      ms('hub/api.py', 694, 'repo_exists', "raise Exception('Invalid repo_id: %s, must be of format namespace/name' % repo_type)"),
    ],
    exception: `Exception: Invalid repo_id: ${repoType}, must be of format namespace/name`,
  }], []);
}

/** `--revision` naming a branch or tag the repository does not have. */
export function noRevisionTraceback(path: EntryPath, repoId: string, revision: string): string {
  return renderChain([{
    frames: [
      ...entryFrames(path),
      path === 'singleFile'
        ? ms('hub/file_download.py', 228, '_repo_file_download', 'revision = _api.get_valid_revision(')
        : ms('hub/snapshot_download.py', 324, '_snapshot_download', 'revision_detail = _api.get_valid_revision_detail('),
      ms('hub/api.py', 1129, 'get_valid_revision_detail', "raise NotExistError('The model: %s has no revision : %s .' % (model_id, revision))"),
    ],
    exception: `modelscope.hub.errors.NotExistError: The model: ${repoId} has no revision : ${revision} .`,
  }], []);
}

/** A single FILE argument that is not in the repository. */
export function fileNotFoundTraceback(filePath: string, repoId: string): string {
  return renderChain([{
    frames: [
      ...entryFrames('singleFile'),
      ms('hub/file_download.py', 301, '_repo_file_download', "raise NotExistError('The file path: %s not exist in: %s' %"),
    ],
    exception: `modelscope.hub.errors.NotExistError: The file path: ${filePath} not exist in: ${repoId}`,
  }], []);
}

/** `modelscope download` without a model, dataset or collection. */
export function nothingToDownloadTraceback(): string {
  return renderChain([{
    frames: [
      f('/usr/local/bin/modelscope', 8, '<module>', 'sys.exit(run_cmd())'),
      ms('cli/cli.py', 57, 'run_cmd', 'cmd.execute()'),
      ms('cli/download.py', 135, 'execute', "raise Exception('Model, dataset, or collection must be set.')"),
    ],
    exception: 'Exception: Model, dataset, or collection must be set.',
  }], []);
}

/** `--max-workers 0`: the thread pool refuses to start. */
export function maxWorkersTraceback(path: EntryPath): string {
  return renderChain([{
    frames: [
      ...entryFrames(path),
      ms('hub/snapshot_download.py', 345, '_snapshot_download', '_download_file_lists('),
      ms('hub/snapshot_download.py', 605, '_download_file_lists', '_download_single_file(filtered_repo_files)'),
      ms('utils/thread_utils.py', 57, 'wrapper', 'with ThreadPoolExecutor(max_workers=max_workers) as executor:'),
      f(`${STDLIB}/concurrent/futures/thread.py`, 144, '__init__', 'raise ValueError("max_workers must be greater than 0")'),
    ],
    exception: 'ValueError: max_workers must be greater than 0',
  }], []);
}
