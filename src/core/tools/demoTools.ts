// The seed tutorial's demo functions (add, mul, compare, count_letter_in_string) as a tool set, off by default
// (`kimi.tools.enableDemoTools`, `kimi-vllm chat --demo-tools`). Results read like the tutorial's Python versions.
import * as z from 'zod/mini';
import { described } from '../config/zodMini';
import { defineTool, type Tool } from './tool';

const num = (what: string) => described(z.number(), what);

/** Python-like number text: 3 → "3", 9.9 → "9.9". */
function n(x: number): string {
  return String(x);
}

export function demoTools(): Tool[] {
  const pair = () => z.strictObject({ a: num('The first number.'), b: num('The second number.') });
  return [
    defineTool({
      name: 'add',
      group: 'demo',
      readOnly: true,
      needsApproval: false,
      description: 'Add two numbers and return the exact sum. Use it instead of adding in your head.',
      input: pair(),
      run: async ({ a, b }) => n(a + b),
    }),
    defineTool({
      name: 'mul',
      group: 'demo',
      readOnly: true,
      needsApproval: false,
      description: 'Multiply two numbers and return the exact product.',
      input: pair(),
      run: async ({ a, b }) => n(a * b),
    }),
    defineTool({
      name: 'compare',
      group: 'demo',
      readOnly: true,
      needsApproval: false,
      description: 'Compare two numbers and say which one is bigger (e.g. for "which is smaller, 9.11 or 9.9?"). Returns a sentence such as "9.9 is greater than 9.11".',
      input: pair(),
      run: async ({ a, b }) => (a > b ? `${n(a)} is greater than ${n(b)}` : a < b ? `${n(b)} is greater than ${n(a)}` : `${n(a)} is equal to ${n(b)}`),
    }),
    defineTool({
      name: 'count_letter_in_string',
      group: 'demo',
      readOnly: true,
      needsApproval: false,
      description: 'Count how many times a letter occurs in a string, ignoring case (e.g. the r\'s in "strawberry"). Use it instead of counting yourself.',
      input: z.strictObject({
        a: described(z.string(), 'The string to search in.'),
        b: described(z.string().check(z.minLength(1)), 'The letter (or text) to count.'),
      }),
      run: async ({ a, b }) => {
        const s = a.toLowerCase();
        const letter = b.toLowerCase();
        let count = 0;
        for (let i = s.indexOf(letter); i >= 0; i = s.indexOf(letter, i + letter.length)) count++;
        return `The letter '${letter}' appears ${count} times in the string.`;
      },
    }),
  ];
}
