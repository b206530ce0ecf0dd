// What a tool is: a name, a description written for the model, a zod/mini input schema (the single source of
// both validation and the OpenAI `tools` JSON), how it may be scheduled, and what it does.
import type * as z from 'zod/mini';
import type { Confinement } from './confinement';
import type { ApprovalRequest, ToolLimits, WorkspacePort } from './types';

export interface ToolContext {
  /** Undefined only for tools that do not need a workspace (the demo set). */
  port: WorkspacePort | undefined;
  confinement: Confinement | undefined;
  signal: AbortSignal;
  limits: ToolLimits;
  /** Whether the model was given this tool (the CLI without --yes has no propose_edit / run_command): a hint in a
   *  result or an error must not send the model to a tool it does not have. */
  offers(tool: string): boolean;
  /** Ask the user; shows the call as awaiting approval meanwhile. Resolves true on Accept. A port may instead
   *  throw ToolError to refuse with a reason (the CLI without --yes does). */
  approve(req: ApprovalRequest): Promise<boolean>;
}

export type ToolGroup = 'workspace' | 'demo';

export interface Tool<S extends z.ZodMiniObject = z.ZodMiniObject> {
  name: string;
  /** For the model: what it does, when to use it, what comes back. */
  description: string;
  input: S;
  group: ToolGroup;
  /** No side effects: may run concurrently with other read-only calls of the same turn, without approval (a
   *  read-only tool may still ask, e.g. to read a file that looks like a secret). */
  readOnly: boolean;
  /** Changes files or runs things: runs one at a time, after the user accepts (the tool calls ctx.approve). */
  needsApproval: boolean;
  run(args: z.output<S>, ctx: ToolContext): Promise<string>;
}

/** Identity with inference: `defineTool({ input: z.strictObject({…}), run(args) {…} })`. */
export function defineTool<S extends z.ZodMiniObject>(tool: Tool<S>): Tool<S> {
  return tool;
}

/** The workspace port and confinement of a context, for tools that need them. */
export function workspaceOf(ctx: ToolContext, tool: string): { port: WorkspacePort; confinement: Confinement } {
  if (!ctx.port || !ctx.confinement) throw new Error(`${tool} needs a workspace, but the tool loop was started without one`);
  return { port: ctx.port, confinement: ctx.confinement };
}
