// The tool registry: the contract of names and arguments (issue #5), the OpenAI `tools` JSON produced by
// z.toJSONSchema from the zod/mini schemas, scheduling marks, and validation messages the model can act on.
import { strict as assert } from 'node:assert';
import { createToolRegistry, parametersOf, signatureOf } from '../../../src/core/tools/registry';
import type { Json } from './helpers';

/** name → [required, optional] argument names, exactly as the issue lists them (plus propose_edit's "…"). */
const CONTRACT: Record<string, [string[], string[]]> = {
  read_file: [['path'], ['startLine', 'endLine']],
  list_directory: [['path'], []],
  find_files: [['glob'], ['maxResults']],
  search_text: [['query'], ['isRegex', 'include', 'maxResults']],
  get_diagnostics: [[], ['path']],
  get_selection: [[], []],
  get_open_editors: [[], []],
  get_symbols: [[], ['path', 'query']],
  propose_edit: [['path', 'newText'], ['oldText', 'explanation']],
  run_command: [['command'], ['cwd']],
};

const DEMO: Record<string, [string[], string]> = {
  add: [['a', 'b'], 'number'],
  mul: [['a', 'b'], 'number'],
  compare: [['a', 'b'], 'number'],
  count_letter_in_string: [['a', 'b'], 'string'],
};

describe('tool registry', () => {
  it('the workspace tools keep the contract: names, argument names, which are required', () => {
    const reg = createToolRegistry();
    assert.deepEqual(reg.names, Object.keys(CONTRACT));
    for (const def of reg.definitions()) {
      const [required, optional] = CONTRACT[def.function.name]!;
      const p = def.function.parameters as Json;
      assert.equal(p.type, 'object');
      assert.deepEqual(Object.keys(p.properties).sort(), [...required, ...optional].sort(), def.function.name);
      assert.deepEqual((p.required ?? []).sort(), [...required].sort(), def.function.name);
      assert.equal(p.additionalProperties, false);
      assert.equal(p.$schema, undefined, 'no $schema in OpenAI parameters');
      assert.ok(!JSON.stringify(p).includes('9007199254740991'), 'no 2^53 noise');
      assert.ok(def.function.description!.length > 40, `${def.function.name} has a description written for the model`);
      for (const [k, v] of Object.entries(p.properties as Record<string, Json>)) assert.ok(typeof v.description === 'string' && v.description.length > 5, `${def.function.name}.${k} described`);
    }
  });

  it('argument types: integers with bounds, booleans, strings', () => {
    const p = (name: string) => createToolRegistry().definitions().find((d) => d.function.name === name)!.function.parameters as Json;
    assert.deepEqual({ ...p('read_file').properties.startLine, description: undefined }, { type: 'integer', minimum: 1, description: undefined });
    assert.equal(p('search_text').properties.isRegex.type, 'boolean');
    assert.deepEqual([p('find_files').properties.maxResults.minimum, p('find_files').properties.maxResults.maximum], [1, 1000]);
    assert.equal(p('propose_edit').properties.newText.type, 'string');
    assert.deepEqual(p('get_selection').properties, {});
  });

  it('scheduling: everything reads only, except propose_edit and run_command, which need approval', () => {
    for (const t of createToolRegistry().tools) {
      const writes = t.name === 'propose_edit' || t.name === 'run_command';
      assert.equal(t.readOnly, !writes, t.name);
      assert.equal(t.needsApproval, writes, t.name);
      assert.equal(t.group, 'workspace');
    }
    assert.deepEqual(createToolRegistry({ writeTools: false }).names, Object.keys(CONTRACT).filter((n) => n !== 'propose_edit' && n !== 'run_command'));
  });

  it('the demo set is off by default and matches the tutorial\'s functions', () => {
    assert.ok(createToolRegistry().names.every((n) => !(n in DEMO)));
    const demo = createToolRegistry({ workspace: false, demo: true });
    assert.deepEqual(demo.names, Object.keys(DEMO));
    assert.equal(demo.needsWorkspace, false);
    for (const t of demo.tools) {
      const p = parametersOf(t) as Json;
      assert.deepEqual(p.required, DEMO[t.name]![0]);
      assert.equal(p.properties.a.type, DEMO[t.name]![1]);
      assert.ok(t.readOnly && !t.needsApproval);
    }
    assert.deepEqual(createToolRegistry({ demo: true }).names, [...Object.keys(CONTRACT), ...Object.keys(DEMO)]);
  });

  it('the demo tools compute what the tutorial\'s Python does', async () => {
    const demo = createToolRegistry({ workspace: false, demo: true });
    const run = (name: string, args: Json) => demo.get(name)!.run(args, undefined as never);
    assert.equal(await run('add', { a: 2, b: 3.5 }), '5.5');
    assert.equal(await run('mul', { a: 6, b: 7 }), '42');
    assert.equal(await run('compare', { a: 9.11, b: 9.9 }), '9.9 is greater than 9.11');
    assert.equal(await run('compare', { a: 3, b: 2 }), '3 is greater than 2');
    assert.equal(await run('compare', { a: 1, b: 1 }), '1 is equal to 1');
    assert.equal(await run('count_letter_in_string', { a: 'Strawberry', b: 'R' }), "The letter 'r' appears 3 times in the string.");
  });

  it('validation: unknown tool, empty name, not JSON, wrong types, unknown keys, empty arguments', () => {
    const reg = createToolRegistry();
    const err = (name: string, args: string) => {
      const v = reg.validate(name, args);
      assert.equal(v.ok, false, `${name} ${args}`);
      return v.ok ? '' : v.error;
    };
    assert.match(err('rm_rf', '{}'), /^error: unknown tool "rm_rf"; expected one of: read_file, list_directory/);
    assert.match(err('', '{}'), /^error: a tool call without a name; expected one of/);
    assert.match(err('read_file', '{"path": "a'), /^error: the arguments of read_file are not valid JSON \(.+\); expected one JSON object \{"path": string non-empty/);
    assert.match(err('read_file', '[1,2]'), /^error: invalid arguments for read_file — arguments: Invalid input: expected object, received array/);
    assert.match(err('read_file', '"README.md"'), /expected object, received string/);
    assert.match(err('read_file', '{"path":"a","startLine":1.5}'), /startLine: Invalid input: expected int, received number/);
    assert.match(err('read_file', '{"file_path":"a"}'), /path: Invalid input: expected string, received undefined; arguments: Unrecognized key: "file_path"/);
    assert.match(err('find_files', '{"glob":"*","maxResults":5000}'), /maxResults: Too big: expected number to be <=1000/);
    assert.match(err('read_file', '{}'), /path: Invalid input: expected string, received undefined/);
    // No arguments at all is {} — fine for tools without required ones.
    const v = reg.validate('get_selection', '');
    assert.ok(v.ok && JSON.stringify(v.args) === '{}');
    const ok = reg.validate('read_file', ' {"path":"src/a.ts","startLine":2} ');
    assert.ok(ok.ok && ok.args.path === 'src/a.ts' && ok.args.startLine === 2);
  });

  it('signatures in error messages show the expected shape', () => {
    const reg = createToolRegistry();
    assert.equal(signatureOf(reg.get('read_file')!), '{"path": string non-empty, "startLine"?: integer ≥ 1, "endLine"?: integer ≥ 1}');
    assert.equal(signatureOf(reg.get('get_open_editors')!), '{} (no arguments)');
  });
});
