// Wire types of the OpenAI-compatible chat API as this extension sends them to vLLM.

export type ChatMode = 'thinking' | 'instant';

export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string } };

export interface RequestToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type RequestMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | ContentPart[] }
  | {
    role: 'assistant';
    content: string;
    tool_calls?: RequestToolCall[];
    /** vLLM ≥ 0.16 reads replayed reasoning only from this field. */
    reasoning?: string;
    /** What vLLM < 0.16 read (sent alongside `reasoning` only when the server is known to be older). */
    reasoning_content?: string;
  }
  | { role: 'tool'; tool_call_id: string; content: string };

export interface ToolDefinition {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export interface Usage {
  prompt: number;
  completion: number;
  total: number;
}

/** The recommended sampling per mode (protocol sheet §3), overridable in settings. */
export interface ChatSampling {
  thinkingTemperature: number;
  instantTemperature: number;
  topP: number;
}

export const RECOMMENDED_SAMPLING: Readonly<ChatSampling> = Object.freeze({ thinkingTemperature: 1.0, instantTemperature: 0.6, topP: 0.95 });
