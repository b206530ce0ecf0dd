// What test/browser/markdownTestPage.mts puts on window as `kimiMd` and the markdown e2e tests call through
// page.evaluate(): the one description of it both sides are checked against. Types only, no DOM or Node types (the
// browser tsconfig and tsconfig.test.json both read it).

export interface StreamOptions {
  seed: number;
  /** Largest chunk, in UTF-16 code units (chunks are 1..maxChunk, skewed small). */
  maxChunk: number;
  /** 'manual': frames run at random points between appends (chance per append); 'raf': requestAnimationFrame. */
  scheduler: 'manual' | 'raf';
  frameChance?: number;
  /** Audit the live DOM after every frame. */
  audit?: boolean;
  /** Keep the container attached to #app (default: detached). */
  attach?: boolean;
  className?: string;
}

export interface StreamResult {
  html: string;
  frames: number;
  chunks: number;
  problems: string[];
}

export interface TurnResult {
  problems: string[];
  thinkingHtml: string;
  answerHtml: string;
}

export interface CodeSnapshot {
  /** Identity of the <code> element (same number = same node). */
  id: number;
  lang: string | null;
  codeClass: string;
  text: string;
  spans: number;
  buttons: (string | null)[];
  structure: string;
}

export interface Snapshot {
  frames: number;
  html: string;
  /** The rendered blocks (the children of the container's chunks): identity and tag. */
  children: { id: number; tag: string }[];
  codes: CodeSnapshot[];
  problems: string[];
}

/** The part of `window.kimiMd` the Node side calls. */
export interface MarkdownTestApi {
  stream(text: string, opts: StreamOptions): Promise<StreamResult>;
  oneShot(text: string, attach?: boolean, className?: string): { html: string; problems: string[] };
  turn(thinking: string, answer: string, mode: 'stream' | 'oneShot', seed: number): Promise<TurnResult>;
  clear(): void;
  start(): void;
  step(text: string, runFrame?: boolean): Snapshot;
  finishSession(): Snapshot & { oneShot: string; text: string; appendAfterFinish: string };
  schedulerCalls(chunks: string[]): Promise<{ first: number; second: number; html: string; oneShot: string }>;
  settle(): Promise<void>;
}

/** The page's global, as the callbacks given to page.evaluate() see it. */
export interface MarkdownTestGlobal {
  kimiMd: MarkdownTestApi;
}
