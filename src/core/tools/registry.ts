// The tool registry: the set of tools offered in a request, their OpenAI `tools` JSON (from the zod/mini schemas
// via z.toJSONSchema), and the validation of a call the model made — unknown tool, arguments that are not JSON,
// schema violations — into either parsed arguments or an `error: … expected …` result the model can act on.
import * as z from 'zod/mini';
import '../config/zodMini'; // English messages for zod issues
import type { ToolDefinition } from '../chat/types';
import { demoTools } from './demoTools';
import type { Tool } from './tool';
import { workspaceTools } from './workspaceTools';

type JsonSchema = Record<string, unknown>;

/** The JSON schema of a tool's input as OpenAI `parameters`: no `$schema`, no "maximum: 2^53−1" noise. */
export function parametersOf(tool: Tool): JsonSchema {
  const schema = z.toJSONSchema(tool.input, { io: 'input', unrepresentable: 'throw' }) as JsonSchema;
  return clean(schema) as JsonSchema;
}

function clean(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clean);
  if (!v || typeof v !== 'object') return v;
  const out: JsonSchema = {};
  for (const [k, val] of Object.entries(v)) {
    if (k === '$schema') continue;
    if ((k === 'maximum' && val === Number.MAX_SAFE_INTEGER) || (k === 'minimum' && val === Number.MIN_SAFE_INTEGER)) continue;
    out[k] = clean(val);
  }
  return out;
}

/** `{"path": string, "startLine"?: integer ≥ 1}` — the shape in one line, for error messages. */
export function signatureOf(tool: Tool): string {
  const schema = parametersOf(tool);
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  const fields = Object.entries(props).map(([name, p]) => `"${name}"${required.has(name) ? '' : '?'}: ${typeText(p)}`);
  return fields.length ? `{${fields.join(', ')}}` : '{} (no arguments)';
}

function typeText(p: JsonSchema): string {
  if (Array.isArray(p.enum)) return p.enum.map((e) => JSON.stringify(e)).join(' | ');
  let t = String(p.type ?? 'any');
  if (t === 'array' && p.items && typeof p.items === 'object') t = `${typeText(p.items as JsonSchema)}[]`;
  const bounds: string[] = [];
  if (typeof p.minimum === 'number') bounds.push(`≥ ${p.minimum}`);
  if (typeof p.maximum === 'number') bounds.push(`≤ ${p.maximum}`);
  if (typeof p.minLength === 'number' && p.minLength > 0) bounds.push('non-empty');
  return bounds.length ? `${t} ${bounds.join(' ')}` : t;
}

export type Validation =
  | { ok: true; tool: Tool; args: Record<string, unknown> }
  | { ok: false; tool: Tool | undefined; error: string };

function snippet(text: string, max = 200): string {
  return text.length > max ? `${JSON.stringify(text.slice(0, max))}…` : JSON.stringify(text);
}

function issuePath(p: readonly PropertyKey[]): string {
  return p.length ? p.map(String).join('.') : 'arguments';
}

export class ToolRegistry {
  private readonly byName = new Map<string, Tool>();
  private defs: ToolDefinition[] | undefined;

  constructor(tools: readonly Tool[]) {
    for (const t of tools) {
      if (this.byName.has(t.name)) throw new Error(`duplicate tool name ${t.name}`);
      this.byName.set(t.name, t);
    }
  }

  get tools(): Tool[] {
    return [...this.byName.values()];
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  get(name: string): Tool | undefined {
    return this.byName.get(name);
  }

  get needsWorkspace(): boolean {
    return this.tools.some((t) => t.group === 'workspace');
  }

  /** The OpenAI `tools` array for the request. */
  definitions(): ToolDefinition[] {
    this.defs ??= this.tools.map((t) => ({
      type: 'function' as const,
      function: { name: t.name, description: t.description, parameters: parametersOf(t) },
    }));
    return this.defs;
  }

  /** Check one call. `argumentsText` is the raw text the model streamed ('' counts as `{}`). */
  validate(name: string, argumentsText: string): Validation {
    const tool = this.byName.get(name);
    if (!tool) {
      const what = name === '' ? 'a tool call without a name' : `unknown tool ${JSON.stringify(name)}`;
      return { ok: false, tool: undefined, error: `error: ${what}; expected one of: ${this.names.join(', ')}` };
    }
    const text = argumentsText.trim();
    let value: unknown;
    try {
      value = text === '' ? {} : JSON.parse(text);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return {
        ok: false,
        tool,
        error: `error: the arguments of ${tool.name} are not valid JSON (${why}); expected one JSON object ${signatureOf(tool)}. Received: ${snippet(argumentsText)}`,
      };
    }
    const r = z.safeParse(tool.input, value);
    if (!r.success) {
      const problems = r.error.issues.map((i) => `${issuePath(i.path)}: ${i.message}`).join('; ');
      return { ok: false, tool, error: `error: invalid arguments for ${tool.name} — ${problems}; expected ${signatureOf(tool)}` };
    }
    return { ok: true, tool, args: r.data as Record<string, unknown> };
  }
}

export interface RegistryOptions {
  /** The workspace tools (read_file … run_command). Default true. */
  workspace?: boolean;
  /** Include propose_edit and run_command (tools that change things). Default true; the CLI leaves them out
   *  without --yes. */
  writeTools?: boolean;
  /** The tutorial's demo set (add, mul, compare, count_letter_in_string). Default false. */
  demo?: boolean;
}

export function createToolRegistry(opts: RegistryOptions = {}): ToolRegistry {
  const tools: Tool[] = [];
  if (opts.workspace ?? true) tools.push(...workspaceTools().filter((t) => (opts.writeTools ?? true) || !t.needsApproval));
  if (opts.demo) tools.push(...demoTools());
  return new ToolRegistry(tools);
}
