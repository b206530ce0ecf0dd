// The contract between the tool layer (plain Node, src/core/tools) and whatever gives it a workspace: the VS Code
// adapter (src/vscode, later) or the CLI's NodeWorkspace (nodeWorkspace.ts). Tools never touch a path the model
// gave them directly: every path goes through the Confinement (confinement.ts) first and reaches the port as a
// ConfinedPath, already resolved inside one of the workspace roots with symlinks followed. Ports report failures
// by throwing ToolError (the message becomes the `error: …` result the model sees).

/** One workspace folder. `path` is absolute and already real (symlinks resolved). */
export interface WorkspaceRoot {
  /** Shown to the model; in a multi-root workspace a path may start with it (`api/src/x.ts`). */
  name: string;
  path: string;
}

/** A path that passed confinement: inside `root` after following every symlink. */
export interface ConfinedPath {
  root: WorkspaceRoot;
  /** Absolute, real path (for a path that does not exist yet: the real parent + the remaining names). */
  absolute: string;
  /** Relative to the root, with `/` separators; '' for the root itself. */
  relative: string;
  /** What the model and the user see: `relative` (or `.`), prefixed with the root name in multi-root workspaces. */
  display: string;
  exists: boolean;
}

export interface FileStat {
  type: 'file' | 'directory' | 'other';
  size: number;
  mtimeMs: number;
}

export interface DirEntry {
  name: string;
  /** For a symlink: the type of what it points to when that is inside the workspace, else 'other' with a note. */
  type: 'file' | 'directory' | 'other';
  /** Shown after the name, e.g. "symlink to a place outside the workspace". */
  note?: string;
}

export interface TextMatch {
  /** Absolute path of the file (the tool layer re-checks it against the confinement). */
  path: string;
  /** 1-based. */
  line: number;
  text: string;
}

/** A file search_text did not search because of its size (over SEARCH_MAX_FILE_BYTES). */
export interface SkippedFile {
  /** Absolute path. */
  path: string;
  bytes: number;
}

export interface DiagnosticInfo {
  /** Absolute path. */
  path: string;
  severity: 'error' | 'warning' | 'info' | 'hint';
  /** 1-based. */
  line: number;
  column: number;
  message: string;
  source?: string;
  code?: string;
}

export interface SelectionInfo {
  /** Absolute path, or an untitled document's name. */
  path: string;
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  text: string;
  language?: string;
}

export interface OpenEditorInfo {
  path: string;
  active: boolean;
  dirty: boolean;
  language?: string;
}

export interface SymbolInfo {
  name: string;
  kind: string;
  path: string;
  line: number;
  containerName?: string;
}

export interface CommandResult {
  exitCode: number | null;
  signal?: string | null;
  /** stdout and stderr interleaved as they arrived (already capped by the port to `maxOutputChars`). */
  output: string;
  /** Characters of output dropped by the cap. */
  droppedChars: number;
  timedOut: boolean;
  durationMs: number;
}

/** What a tool asks the user before it may go ahead. The UI renders it in the call's card with Accept / Reject. */
export type ApprovalRequest =
  | {
    kind: 'edit';
    tool: string;
    path: ConfinedPath;
    /** The file's text now (undefined: the edit creates the file). A UI shows original ↔ proposed as a diff. */
    original: string | undefined;
    proposed: string;
    explanation?: string;
  }
  | { kind: 'command'; tool: string; command: string; cwd: ConfinedPath }
  | {
    kind: 'sensitiveRead';
    tool: string;
    path: ConfinedPath;
    /** Why it needs approval, e.g. "looks like a secret (.env files hold credentials)". */
    reason: string;
    /** What kind of file it is (confinement.ts's Sensitivity): a host may remember "always allow" per kind. */
    sensitivity?: 'secret' | 'git' | 'ignored' | 'excluded';
  };

/** The tool call an approval belongs to (its card in the UI). */
export interface ApprovalCall {
  /** `functions.propose_edit:3`, final (unique in the conversation) by the time a call runs. */
  id: string;
  round: number;
  index: number;
  name: string;
}

export type ApprovalDecision = 'accept' | 'reject';

export interface ReadFileResult {
  text: string;
  /** Size of the file in bytes. */
  bytes: number;
}

/** Everything the tools need from a workspace. Methods that a host cannot provide throw
 *  `new ToolError(notAvailable(…))`; every other failure is a ToolError with a message for the model. */
export interface WorkspacePort {
  readonly roots: readonly WorkspaceRoot[];
  /** Globs (relative to a root, e.g. VS Code's files.exclude) whose files need approval to read, like .gitignore'd
   *  ones. Optional. */
  readonly excludes?: readonly string[];
  /** A short host name for messages ("VS Code", "the kimi-vllm CLI"). */
  readonly hostName: string;
  /** When this host leaves run_command out: how the user can let the model run commands, for the model to pass on
   *  (the CLI: "… start kimi-vllm chat again with --yes …"). Optional. */
  readonly howToAllowCommands?: string | undefined;

  readFile(p: ConfinedPath, opts: { maxBytes: number; signal: AbortSignal }): Promise<ReadFileResult>;
  /** A file's lines from the first, read as they are consumed (read_file with a line range on a file over the read
   *  limit: the caller stops iterating once past the range, and the port stops reading and closes the file). Lines
   *  split at `\n` or `\r\n`, without the line break; a final line break makes no extra empty line; each line is cut
   *  to `maxLineChars` characters (a longer one still counts as one line). Errors as readFile. Optional: without it a
   *  file over the read limit cannot be read at all. */
  readLines?(p: ConfinedPath, opts: { maxLineChars: number; signal: AbortSignal }): AsyncIterable<string>;
  stat(p: ConfinedPath): Promise<FileStat | undefined>;
  list(p: ConfinedPath, signal: AbortSignal): Promise<DirEntry[]>;
  /** `glob` is normalised (relative, `/`-separated, checked). Respects ignore files and excludes; does not follow
   *  symlinked directories. `truncated`: more than maxResults matched. */
  findFiles(q: { glob: string; maxResults: number; signal: AbortSignal }): Promise<{ files: string[]; truncated: boolean }>;
  /** `tooLarge`: files the search would have looked at but skipped for their size (optional; looked for when the
   *  result is not truncated), so that the result can say so instead of a bare "No matches". */
  searchText(q: { query: string; isRegex: boolean; include?: string; maxResults: number; signal: AbortSignal }): Promise<{ matches: TextMatch[]; truncated: boolean; tooLarge?: SkippedFile[] }>;
  diagnostics(p: ConfinedPath | undefined): Promise<DiagnosticInfo[]>;
  selection(): Promise<SelectionInfo | undefined>;
  openEditors(): Promise<OpenEditorInfo[]>;
  symbols(q: { path?: ConfinedPath; query?: string; maxResults: number; signal: AbortSignal }): Promise<SymbolInfo[]>;
  /** Apply an edit the user accepted (through requestApproval {kind:'edit'}, which shows the diff). `original` is
   *  what the approval showed: refuse (ToolError) when the file changed since. */
  applyEdit(e: { path: ConfinedPath; original: string | undefined; proposed: string }): Promise<void>;
  /** Run an accepted command in `cwd` (a directory inside the workspace) with a timeout; output capped. */
  runCommand(c: { command: string; cwd: ConfinedPath; timeoutMs: number; maxOutputChars: number; signal: AbortSignal }): Promise<CommandResult>;
  /** Ask the user. Must settle (or honour `signal`); the loop shows the call as awaiting approval meanwhile. `call`
   *  (given by the tool loop) says which call asks, so a UI can put Accept / Reject on its card. */
  requestApproval(req: ApprovalRequest, signal: AbortSignal, call?: ApprovalCall): Promise<ApprovalDecision>;
}

/** A failure whose message is meant for the model (and the call's card): it becomes the result `error: <message>`. */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}

/** The standard message for a method a host does not have. */
export function notAvailable(tool: string, hostName: string): string {
  return `${tool} is not available in ${hostName}: it needs VS Code's language services or editor state. ` +
    'Use read_file, list_directory, find_files or search_text instead.';
}

/** Tool-layer limits (all optional in the loop options). */
export interface ToolLimits {
  /** Hard cap of any one result sent to the model, in characters. Default 24,000. */
  maxResultChars: number;
  /** read_file reads files larger than this only in part (a line range, streamed) and refuses to read them whole.
   *  Default 8 MiB. */
  maxReadBytes: number;
  /** read_file shows at most this many lines per call. Default 2,000. */
  maxReadLines: number;
  /** Default and maximum of maxResults for find_files / search_text. */
  defaultMaxResults: number;
  maxMaxResults: number;
  /** list_directory shows at most this many entries. Default 1,000. */
  maxListEntries: number;
  /** run_command: timeout and output cap. */
  commandTimeoutMs: number;
  maxCommandOutputChars: number;
}

export const DEFAULT_LIMITS: Readonly<ToolLimits> = Object.freeze({
  maxResultChars: 24_000,
  maxReadBytes: 8 * 1024 * 1024,
  maxReadLines: 2_000,
  defaultMaxResults: 100,
  maxMaxResults: 1_000,
  maxListEntries: 1_000,
  commandTimeoutMs: 120_000,
  maxCommandOutputChars: 16_000,
});
