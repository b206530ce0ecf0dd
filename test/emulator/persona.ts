// The emulator's default "model": deterministic, sensible answers without a script. It thinks a few sentences about
// the question (in Chinese when the question is Chinese), answers in markdown (a paragraph and a list; a code block
// when asked for code; a table when asked to compare), calls offered tools when the prompt clearly asks for them,
// and after tool results answers by quoting them. `long-answer:N` / `long-thinking:N` in the prompt produce exactly N
// words of answer / thinking, for performance tests.
import { contentText } from './tokens';

export interface PersonaMessage {
  role: string;
  content?: unknown;
  tool_calls?: { id?: unknown; function?: { name?: unknown; arguments?: unknown } }[];
  tool_call_id?: unknown;
  name?: unknown;
}

export interface PersonaTool {
  name: string;
  description?: string;
  parameters?: { properties?: Record<string, { type?: unknown }>; required?: unknown };
}

export type PersonaToolChoice = 'auto' | 'none' | 'required' | { name: string };

export interface PersonaInput {
  messages: PersonaMessage[];
  tools: PersonaTool[];
  toolChoice: PersonaToolChoice;
  thinking: boolean;
}

export interface PersonaReply {
  thinking: string;
  answer: string;
  toolCalls: { name: string; arguments: Record<string, unknown> }[];
}

const HAN = /[\u4e00-\u9fff]/;

export function personaReply(input: PersonaInput): PersonaReply {
  const { messages } = input;
  const last = messages[messages.length - 1];
  const question = lastUserText(messages);
  const zh = HAN.test(question);
  const reply = last?.role === 'tool' ? answerToolResults(messages, zh) : answerQuestion(question, input, zh);
  applyLengthDirectives(question, reply);
  if (!input.thinking) return { ...reply, thinking: '' };
  // Kimi-K2.5 in thinking mode: reasoning starts and ends with a space, the answer starts with one (see the seed).
  return { ...reply, thinking: ` ${reply.thinking.trim()} `, answer: reply.answer ? ` ${reply.answer.trimStart()}` : '' };
}

/** A raw /v1/completions continuation. A prompt ending with the thinking generation prompt (`<think>`) gets a
 *  thought, the literal ` </think> `, then the answer; anything else gets just the answer. */
export function personaCompletion(prompt: string): string {
  const turns = [...prompt.matchAll(/<\|im_user\|>user<\|im_middle\|>([\s\S]*?)<\|im_end\|>/g)];
  const question = turns.length ? turns[turns.length - 1][1] : prompt.replace(/<\/?think>/g, '').trim();
  const zh = HAN.test(question);
  const reply = answerQuestion(question, { messages: [], tools: [], toolChoice: 'none', thinking: true }, zh);
  applyLengthDirectives(question, reply);
  if (/<think>\s*$/.test(prompt)) return ` ${reply.thinking.trim()} </think> ${reply.answer}`;
  return reply.answer;
}

// ----- reading the conversation -----

function lastUserText(messages: PersonaMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') return contentText(messages[i].content);
  }
  return '';
}

function hasImage(messages: PersonaMessage[]): boolean {
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  return Array.isArray(lastUser?.content) &&
    lastUser.content.some((p: unknown) => (p as { type?: unknown })?.type === 'image_url');
}

function topicOf(question: string): string {
  const firstLine = question.trim().split('\n')[0] ?? '';
  const t = firstLine.replace(/^(用中文回答|answer in \w+)[:：]\s*/i, '').replace(/[?？!！.。]+$/, '').trim();
  return t.length > 80 ? `${t.slice(0, 77)}...` : t || 'your question';
}

function applyLengthDirectives(question: string, reply: PersonaReply) {
  const longAnswer = /long-answer:(\d+)/i.exec(question);
  const longThinking = /long-thinking:(\d+)/i.exec(question);
  if (longAnswer) reply.answer = fillerWords(Math.min(Number(longAnswer[1]), 1_000_000));
  if (longThinking) reply.thinking = fillerWords(Math.min(Number(longThinking[1]), 1_000_000));
}

const FILLER = ('the engine streams tokens from a paged cache while every request waits for its turn and each layer ' +
  'adds a little more context to the answer being written').split(' ');

/** Exactly n whitespace-separated words, in sentences of 12 and paragraphs of 60. */
export function fillerWords(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) {
    let w = FILLER[i % FILLER.length];
    if (i % 12 === 0) w = w[0].toUpperCase() + w.slice(1);
    if (i > 0) out += i % 60 === 0 ? '\n\n' : ' ';
    out += w;
    if (i % 12 === 11 || i === n - 1) out += '.';
  }
  return out;
}

// ----- tool use -----

interface PlannedCall {
  name: string;
  arguments: Record<string, unknown>;
}

const PATH_RE =
  /(?:^|[\s"'`(（：:])((?:~\/|\.{1,2}\/|\/)?(?:[\w.@-]+\/)*[\w@-][\w.@-]*\.[A-Za-z][A-Za-z0-9]{0,7}|(?:~\/|\.{1,2}\/|\/)[\w.@\/-]*|[\w.@-]+\/(?:[\w.@-]+\/?)*)(?=$|[\s"'`)）,，。;；:：?？!！])/g;

/** Path-like tokens in the text (`src/a.ts`, `README.md`, `./lib/`), never URLs or plain numbers. */
export function pathTokens(text: string): string[] {
  const found: string[] = [];
  for (const m of text.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S*/gi, ' ').matchAll(PATH_RE)) {
    const p = m[1].replace(/[.]+$/, '');
    if (!p || /^\d+(\.\d+)*$/.test(p) || found.includes(p)) continue;
    if (!/[A-Za-z]/.test(p)) continue;
    found.push(p);
  }
  return found;
}

function numbers(text: string): number[] {
  return [...text.matchAll(/-?\d+(?:\.\d+)?/g)].map((m) => Number(m[0]));
}

function paramNames(tool: PersonaTool): string[] {
  return Object.keys(tool.parameters?.properties ?? {});
}

function paramOf(tool: PersonaTool, pattern: RegExp, fallback: string): string {
  return paramNames(tool).find((p) => pattern.test(p)) ?? paramNames(tool)[0] ?? fallback;
}

function letterQuestion(text: string): { word: string; letter: string } | undefined {
  const zh = /([A-Za-z]+)\s*(?:中|里|里面)?(?:有|包含)?\s*(?:多少|几)个?\s*['"‘“]?([A-Za-z])\b/.exec(text);
  if (zh) return { word: zh[1], letter: zh[2] };
  const en = /(?:how many|count(?: the)?(?: number of)?)\s+(?:times\s+(?:does|is)\s+)?(?:the\s+)?(?:letter\s+)?['"‘“]?([A-Za-z])['"’”]?(?:'s|s)?\b[\s\S]*?\b(?:in|of)\s+(?:the\s+)?(?:word\s+|string\s+)?['"‘“]?([A-Za-z-]+)/i.exec(text);
  if (en) return { word: en[2], letter: en[1] };
  const words = text.match(/[A-Za-z]{3,}/g) ?? [];
  const letter = /(?:^|[^A-Za-z])['"‘“]?([A-Za-z])['"’”]?(?:$|[^A-Za-z])/.exec(text);
  if (!words.length || !letter) return undefined;
  return { word: words.reduce((a, b) => (b.length > a.length ? b : a)), letter: letter[1] };
}

/** Arguments from a tool's JSON schema, filled from the prompt: strings from paths or quotes, numbers in order. */
function genericArgs(tool: PersonaTool, text: string): Record<string, unknown> {
  const props = tool.parameters?.properties ?? {};
  const required = Array.isArray(tool.parameters?.required) ? (tool.parameters?.required as string[]) : Object.keys(props);
  const nums = numbers(text);
  const quoted = /["“'‘`]([^"”'’`]+)["”'’`]/.exec(text)?.[1];
  const args: Record<string, unknown> = {};
  for (const key of required) {
    const type = props[key]?.type;
    if (type === 'number' || type === 'integer' || type === 'int' || type === 'float') args[key] = nums.shift() ?? 1;
    else if (type === 'boolean') args[key] = true;
    else if (type === 'array') args[key] = [];
    else if (type === 'object') args[key] = {};
    else if (/path|file|dir/i.test(key)) args[key] = pathTokens(text)[0] ?? '.';
    else args[key] = quoted ?? topicOf(text);
  }
  return args;
}

function planToolCalls(text: string, tools: PersonaTool[], choice: PersonaToolChoice): PlannedCall[] {
  if (choice === 'none' || !tools.length) return [];
  const tool = (name: string) => tools.find((t) => t.name === name);
  if (typeof choice === 'object') {
    const forced = tool(choice.name);
    if (!forced) return [];
    const planned = planToolCalls(text, [forced], 'auto');
    return planned.length ? planned.slice(0, 1) : [{ name: forced.name, arguments: genericArgs(forced, text) }];
  }
  const lower = text.toLowerCase();
  const nums = numbers(text);
  const paths = pathTokens(text);

  const counter = tool('count_letter_in_string');
  if (counter && /how many|count|多少|几个/i.test(text)) {
    const q = letterQuestion(text);
    if (q) {
      const [a, b] = paramNames(counter).length >= 2 ? paramNames(counter) : ['a', 'b'];
      return [{ name: counter.name, arguments: { [a]: q.word, [b]: q.letter } }];
    }
  }
  const arithmetic: [string, RegExp][] = [
    ['compare', /\b(compare|bigger|larger|greater|smaller|less|which is)\b|比较|哪个.{0,3}[大小]|更大|更小/i],
    ['mul', /\b(multiply|multiplied|product|times)\b|\*|×|乘/i],
    ['add', /\b(add|adds|sum|plus|total)\b|\+|相加|求和|之和|加起来/i],
  ];
  for (const [name, re] of arithmetic) {
    const t = tool(name);
    if (t && nums.length >= 2 && re.test(text)) {
      const [a, b] = paramNames(t).length >= 2 ? paramNames(t) : ['a', 'b'];
      return [{ name: t.name, arguments: { [a]: nums[0], [b]: nums[1] } }];
    }
  }
  const reader = tool('read_file');
  const files = paths.filter((p) => /\.[A-Za-z][A-Za-z0-9]*$/.test(p));
  if (reader && files.length && /\b(read|open|explain|show|look at|view|cat|summari[sz]e|what'?s in)\b|读|打开|查看|解释|看看|内容/i.test(text)) {
    const key = paramOf(reader, /path|file/i, 'path');
    return files.map((p) => ({ name: reader.name, arguments: { [key]: p } }));
  }
  const lister = tool('list_directory');
  if (lister && /\b(list|ls|files|directory|directories|folder|folders)\b|列出|目录|文件夹|有哪些文件/i.test(lower)) {
    const key = paramOf(lister, /path|dir/i, 'path');
    return [{ name: lister.name, arguments: { [key]: paths.find((p) => !files.includes(p)) ?? paths[0] ?? '.' } }];
  }
  // A tool named explicitly in the prompt ("use get_weather …").
  const named = tools.find((t) => t.name.length > 2 && lower.includes(t.name.toLowerCase()));
  if (named) return [{ name: named.name, arguments: genericArgs(named, text) }];
  if (choice === 'required') return [{ name: tools[0].name, arguments: genericArgs(tools[0], text) }];
  return [];
}

// ----- answers -----

function answerQuestion(question: string, input: PersonaInput, zh: boolean): PersonaReply {
  const topic = topicOf(question);
  const calls = planToolCalls(question, input.tools, input.toolChoice);
  if (calls.length) {
    const list = calls.map((c) => `\`${c.name}\` ${JSON.stringify(c.arguments)}`).join(zh ? '，' : ', ');
    return {
      thinking: zh
        ? `用户问的是"${topic}"。我可以使用工具来准确回答：${list}。先调用工具，拿到结果后再回答。`
        : `The user asks: "${topic}". A tool can answer this precisely, so I'll call ${list} and answer once the ` +
          'result is back.',
      answer: '',
      toolCalls: calls,
    };
  }
  const image = hasImage(input.messages);
  if (/^\s*(hi|hello|hey)\b|^\s*(你好|您好)/i.test(question)) return greeting(zh);
  if (/\b(code|function|script|implement|program|snippet|class)\b|write an? |代码|函数|实现|写一个|程序/i.test(question)) {
    return codeAnswer(question, topic, zh);
  }
  if (/\bcompare\b|\bvs\.?\s|\bversus\b|differences? between|比较|对比|区别|哪个好/i.test(question)) {
    return compareAnswer(question, topic, zh);
  }
  return generalAnswer(topic, zh, image);
}

function greeting(zh: boolean): PersonaReply {
  if (zh) {
    return {
      thinking: '用户在打招呼。我应该友好地回应，并简单介绍我能做什么。',
      answer: '你好！我是运行在你自己的 vLLM 服务器上的 Kimi。我可以：\n\n- 回答问题、解释概念\n- 编写和解释代码\n- 调用你提供的工具\n\n有什么可以帮你的？',
      toolCalls: [],
    };
  }
  return {
    thinking: 'The user is greeting me. I should answer briefly and say what I can help with.',
    answer: "Hello! I'm Kimi, running on your own vLLM server. I can:\n\n- answer questions and explain concepts\n" +
      '- write and review code\n- use the tools you give me\n\nWhat would you like to do?',
    toolCalls: [],
  };
}

function generalAnswer(topic: string, zh: boolean, image: boolean): PersonaReply {
  if (zh) {
    return {
      thinking: `用户问的是"${topic}"。${image ? '用户还附上了一张图片，我需要结合图片来回答。' : ''}这是一个一般性的问题，` +
        '我应该先给出简短的解释，再列出几个要点。保持准确、简洁。',
      answer: `关于**${topic}**，简要回答如下。${image ? '我已经看过你附上的图片。' : ''}\n\n` +
        '要点：\n\n1. **是什么**：先弄清基本概念和适用范围。\n2. **为什么重要**：它决定了效果和成本。\n' +
        '3. **怎么做**：从一个小例子开始，逐步验证。\n\n如果需要，我可以进一步展开其中任何一点。',
      toolCalls: [],
    };
  }
  return {
    thinking: `The user asks: "${topic}". ${image ? 'They attached an image, so I should take it into account. ' : ''}` +
      'This is a general question; a short explanation followed by a few key points should cover it. ' +
      'I will keep it accurate and concise.',
    answer: `Here is a short answer about **${topic}**.${image ? ' I looked at the image you attached.' : ''}\n\n` +
      'Key points:\n\n1. **What it is**: start from the basic idea and where it applies.\n' +
      '2. **Why it matters**: it decides both the quality of the result and its cost.\n' +
      '3. **How to start**: try a small example first, then build on what works.\n\n' +
      'Let me know if you want me to go deeper into any of these.',
    toolCalls: [],
  };
}

function compareAnswer(question: string, topic: string, zh: boolean): PersonaReply {
  const m =
    /(?:compare|differences? between)\s+(.+?)\s+(?:and|with|to|vs\.?|versus)\s+(.+?)(?:[?.!]|$)/i.exec(question) ??
    /(.+?)\s+(?:vs\.?|versus)\s+(.+?)(?:[?.!]|$)/i.exec(question) ??
    /(?:比较|对比)?\s*(.+?)\s*(?:和|与|跟)\s*(.+?)\s*(?:的|有什么|有何)?(?:区别|比较|对比|不同|哪个)/.exec(question);
  // Keep just the compared things: "Go for a CLI tool" → "Go".
  const short = (s: string | undefined, fallback: string) =>
    (s ?? fallback).split(/\s+(?:for|in|when|with|on|as|if)\s+|[,，]/)[0].trim().split(/\s+/).slice(0, 4).join(' ') || fallback;
  const a = short(m?.[1], zh ? '方案 A' : 'Option A');
  const b = short(m?.[2], zh ? '方案 B' : 'Option B');
  if (zh) {
    return {
      thinking: `用户想比较 ${a} 和 ${b}。用表格列出几个维度的差异最清楚，最后给出建议。`,
      answer: `下面从几个方面比较 **${a}** 和 **${b}**：\n\n| 维度 | ${a} | ${b} |\n|------|------|------|\n` +
        '| 上手难度 | 较低 | 较高 |\n| 灵活性 | 一般 | 更强 |\n| 适用场景 | 简单任务 | 复杂项目 |\n\n' +
        `**结论**：简单任务选 ${a}，需要更多控制时选 ${b}。`,
      toolCalls: [],
    };
  }
  return {
    thinking: `The user wants to compare ${a} and ${b} ("${topic}"). A table makes the differences easy to scan; ` +
      'I will finish with a recommendation.',
    answer: `Here is how **${a}** and **${b}** compare:\n\n| Aspect | ${a} | ${b} |\n|---|---|---|\n` +
      '| Learning curve | Gentler | Steeper |\n| Flexibility | Moderate | High |\n| Best for | Quick tasks | Large projects |\n\n' +
      `**Bottom line:** pick ${a} for simple jobs and ${b} when you need more control.`,
    toolCalls: [],
  };
}

type Lang = 'python' | 'typescript' | 'javascript' | 'rust' | 'go';
type Task = 'fibonacci' | 'reverse' | 'hello';

const CODE: Record<Task, Record<Lang, string>> = {
  fibonacci: {
    python: 'def fibonacci(n: int) -> list[int]:\n    """Return the first n Fibonacci numbers."""\n    seq = [0, 1]\n' +
      '    while len(seq) < n:\n        seq.append(seq[-1] + seq[-2])\n    return seq[:n]\n\n\nprint(fibonacci(10))',
    typescript: 'function fibonacci(n: number): number[] {\n  const seq = [0, 1];\n' +
      '  while (seq.length < n) seq.push(seq[seq.length - 1] + seq[seq.length - 2]);\n  return seq.slice(0, n);\n}\n\n' +
      'console.log(fibonacci(10));',
    javascript: 'function fibonacci(n) {\n  const seq = [0, 1];\n' +
      '  while (seq.length < n) seq.push(seq[seq.length - 1] + seq[seq.length - 2]);\n  return seq.slice(0, n);\n}\n\n' +
      'console.log(fibonacci(10));',
    rust: 'fn fibonacci(n: usize) -> Vec<u64> {\n    let mut seq = vec![0, 1];\n    while seq.len() < n {\n' +
      '        let next = seq[seq.len() - 1] + seq[seq.len() - 2];\n        seq.push(next);\n    }\n    seq.truncate(n);\n' +
      '    seq\n}\n\nfn main() {\n    println!("{:?}", fibonacci(10));\n}',
    go: 'package main\n\nimport "fmt"\n\nfunc fibonacci(n int) []int {\n\tseq := []int{0, 1}\n\tfor len(seq) < n {\n' +
      '\t\tseq = append(seq, seq[len(seq)-1]+seq[len(seq)-2])\n\t}\n\treturn seq[:n]\n}\n\nfunc main() {\n' +
      '\tfmt.Println(fibonacci(10))\n}',
  },
  reverse: {
    python: 'def reverse(text: str) -> str:\n    """Reverse a string."""\n    return text[::-1]\n\n\nprint(reverse("hello"))',
    typescript: 'function reverse(text: string): string {\n  return [...text].reverse().join("");\n}\n\n' +
      'console.log(reverse("hello"));',
    javascript: 'function reverse(text) {\n  return [...text].reverse().join("");\n}\n\nconsole.log(reverse("hello"));',
    rust: 'fn reverse(text: &str) -> String {\n    text.chars().rev().collect()\n}\n\nfn main() {\n' +
      '    println!("{}", reverse("hello"));\n}',
    go: 'package main\n\nimport "fmt"\n\nfunc reverse(s string) string {\n\tr := []rune(s)\n' +
      '\tfor i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {\n\t\tr[i], r[j] = r[j], r[i]\n\t}\n\treturn string(r)\n}\n\n' +
      'func main() {\n\tfmt.Println(reverse("hello"))\n}',
  },
  hello: {
    python: 'def greet(name: str) -> str:\n    return f"Hello, {name}!"\n\n\nprint(greet("world"))',
    typescript: 'function greet(name: string): string {\n  return `Hello, ${name}!`;\n}\n\nconsole.log(greet("world"));',
    javascript: 'function greet(name) {\n  return `Hello, ${name}!`;\n}\n\nconsole.log(greet("world"));',
    rust: 'fn greet(name: &str) -> String {\n    format!("Hello, {}!", name)\n}\n\nfn main() {\n' +
      '    println!("{}", greet("world"));\n}',
    go: 'package main\n\nimport "fmt"\n\nfunc greet(name string) string {\n\treturn fmt.Sprintf("Hello, %s!", name)\n}\n\n' +
      'func main() {\n\tfmt.Println(greet("world"))\n}',
  },
};

const RUN: Record<Lang, string> = {
  python: 'python3 main.py',
  typescript: 'npx tsx main.ts',
  javascript: 'node main.js',
  rust: 'cargo run',
  go: 'go run main.go',
};

function codeAnswer(question: string, topic: string, zh: boolean): PersonaReply {
  const q = question.toLowerCase();
  const lang: Lang = /\bpython\b|\.py\b/.test(q) ? 'python' : /\brust\b/.test(q) ? 'rust'
    : /\bgo(lang)?\b/.test(q) ? 'go' : /\bjavascript\b|\bnode(\.js)?\b|\bjs\b/.test(q) ? 'javascript' : 'typescript';
  const task: Task = /fib|斐波那契/.test(q) ? 'fibonacci' : /revers|反转|倒序/.test(q) ? 'reverse' : 'hello';
  const code = '```' + lang + '\n' + CODE[task][lang] + '\n```';
  if (zh) {
    return {
      thinking: `用户需要代码："${topic}"。我用 ${lang} 写一个完整、可以直接运行的小例子，再简单说明用法。`,
      answer: `下面是用 ${lang} 实现的示例：\n\n${code}\n\n- 代码是自包含的，没有外部依赖。\n- 运行：\`${RUN[lang]}\`\n` +
        '- 修改最后一行的输入即可尝试其他值。',
      toolCalls: [],
    };
  }
  return {
    thinking: `The user wants code: "${topic}". I'll write a small, self-contained ${lang} example that runs as is, ` +
      'then explain how to use it.',
    answer: `Here is a ${lang} implementation:\n\n${code}\n\n- It is self-contained and has no dependencies.\n` +
      `- Run it with \`${RUN[lang]}\`.\n- Change the input on the last line to try other values.`,
    toolCalls: [],
  };
}

/** After tool results: quote them and answer with them. */
function answerToolResults(messages: PersonaMessage[], zh: boolean): PersonaReply {
  let lastAssistant = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'assistant') {
      lastAssistant = i;
      break;
    }
  }
  const calls = lastAssistant >= 0 ? messages[lastAssistant].tool_calls ?? [] : [];
  const results = messages.slice(lastAssistant + 1).filter((m) => m.role === 'tool').map((m, i) => {
    const call = calls.find((c) => c.id === m.tool_call_id) ?? calls[i];
    const name = typeof call?.function?.name === 'string' ? call.function.name
      : typeof m.name === 'string' ? m.name : 'tool';
    return { name, text: contentText(m.content).trim() };
  });
  const short = results.map((r) => `${r.name} → ${oneLine(r.text)}`).join('; ');
  const sections = results.map((r) => quoteResult(r.name, r.text, zh)).join('\n\n');
  const single = results.length === 1 && !results[0].text.includes('\n') ? results[0].text : '';
  if (zh) {
    return {
      thinking: `工具已经返回结果：${short}。现在根据这些结果回答用户的问题。`,
      answer: `${sections}\n\n${single ? `所以答案是：${single}` : '以上就是工具返回的结果，需要的话我可以继续分析。'}`,
      toolCalls: [],
    };
  }
  return {
    thinking: `The tool results are back: ${short}. I can answer the user's question with them now.`,
    answer: `${sections}\n\n${single ? `So the answer is: ${single}` : 'That is what the tools returned; ask me if you want more detail.'}`,
    toolCalls: [],
  };
}

function oneLine(text: string): string {
  const first = text.split('\n')[0] ?? '';
  return first.length > 60 ? `${first.slice(0, 57)}...` : first;
}

function quoteResult(name: string, text: string, zh: boolean): string {
  const lines = text.split('\n');
  if (lines.length === 1) {
    return zh ? `工具 \`${name}\` 返回：\n\n> ${text}` : `The \`${name}\` tool returned:\n\n> ${text}`;
  }
  const head = lines.slice(0, 8).join('\n');
  const more = lines.length > 8;
  return zh
    ? `工具 \`${name}\` 返回了 ${lines.length} 行${more ? '，开头如下' : ''}：\n\n\`\`\`\n${head}\n\`\`\``
    : `The \`${name}\` tool returned ${lines.length} lines${more ? '; here is how it starts' : ''}:\n\n\`\`\`\n${head}\n\`\`\``;
}
