// The interfaces the core needs from its host (VS Code or the CLI). Side effects are injected so logic stays testable.

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** The subset of WHATWG fetch the core uses (Node 20's global fetch satisfies it). */
export type FetchLike = (input: string, init?: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal }) => Promise<{
  ok: boolean;
  status: number;
  text(): Promise<string>;
}>;

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
