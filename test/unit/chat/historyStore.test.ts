// The history store on a real directory: atomic writes (a process killed between the temp write and the rename
// leaves the old content intact), corruption quarantine that loses nothing else, index rebuild, list/open/delete/
// rename, and the time to reopen a 1,000-turn conversation.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { addUserTurn, newConversation, type AssistantTurn, type Conversation } from '../../../src/core/chat/conversation';
import { HistoryError, HistoryStore } from '../../../src/core/chat/historyStore';
import { repoRoot } from '../../support/paths';
import { longConversation, runNode } from './helpers';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-history-'));
}

function conversation(title: string, turns = 2, now = Date.now()): Conversation {
  const c = newConversation({ now });
  for (let i = 0; i < turns; i += 2) {
    addUserTurn(c, { text: i === 0 ? title : `question ${i}` }, now + i);
    const a: AssistantTurn = { role: 'assistant', id: `a${i}`, createdAt: now + i + 1, mode: 'thinking', thinking: 'thought', answer: `answer ${i}`, toolCalls: [], usage: { prompt: 10, completion: 5, total: 15 } };
    c.turns.push(a);
  }
  return c;
}

describe('history store', () => {
  let dir: string;
  beforeEach(() => {
    dir = tmpDir();
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('save, list (newest first), open, rename, delete — and a fresh store sees the same', async () => {
    const store = new HistoryStore(dir);
    const a = conversation('First chat', 2, 1000);
    const b = conversation('Second chat', 4, 2000);
    await store.save(a);
    await store.save(b);
    let list = await store.list();
    assert.deepEqual(list.conversations.map((s) => [s.title, s.turnCount]), [['Second chat', 4], ['First chat', 2]]);
    assert.deepEqual(list.problems, []);
    assert.deepEqual(await new HistoryStore(dir).open(a.id), a);
    await store.rename(a.id, '  Renamed  ');
    assert.equal((await new HistoryStore(dir).open(a.id)).title, 'Renamed');
    await store.delete(b.id);
    list = await new HistoryStore(dir).list();
    assert.deepEqual(list.conversations.map((s) => s.title), ['Renamed']);
    await assert.rejects(store.open(b.id), (e: HistoryError) => e.kind === 'notFound');
    await assert.rejects(store.open('../etc/passwd'), (e: HistoryError) => e.kind === 'invalidId');
    assert.deepEqual(fs.readdirSync(dir).sort(), [`conv-${a.id}.json`, 'index.json']);
  });

  it('keeps no copy of what it returned: an opened conversation is freed once the caller drops it', async function () {
    this.timeout(30_000);
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const store = new HistoryStore(dir);
    const conv = longConversation(1000);
    await store.save(conv);
    // Opened, then dropped (the WeakRef is made in another function, so no local of this one holds the object).
    const ref = await (async () => new WeakRef(await store.open(conv.id)))();
    await new Promise((r) => setImmediate(r)); // a WeakRef keeps its target until the end of the job that made it
    gc();
    assert.equal(ref.deref(), undefined, 'the store still holds the conversation it opened last');
    assert.equal((await store.open(conv.id)).turns.length, 1000);
  });

  it('an empty or missing directory lists nothing', async () => {
    assert.deepEqual(await new HistoryStore(path.join(dir, 'not-yet')).list(), { conversations: [], problems: [] });
  });

  it('a process killed between the temp write and the rename leaves the old content intact', async () => {
    const store = new HistoryStore(dir);
    const conv = conversation('Keep me', 2);
    await store.save(conv);
    const before = fs.readFileSync(path.join(dir, `conv-${conv.id}.json`), 'utf8');
    // A child process saves a changed version and SIGKILLs itself right after the temp file is fsynced.
    const script = path.join(dir, 'crash.js');
    fs.writeFileSync(script, `
      const { HistoryStore } = require(${JSON.stringify(path.join(repoRoot, 'out/src/core/chat/historyStore.js'))});
      const conv = JSON.parse(require('fs').readFileSync(${JSON.stringify(path.join(dir, `conv-${conv.id}.json`))}, 'utf8'));
      conv.title = 'CHANGED'; conv.turns.push({ role: 'user', id: 'u-new', createdAt: 1, text: 'lost' });
      const store = new HistoryStore(${JSON.stringify(dir)}, { beforeRename: () => process.kill(process.pid, 'SIGKILL') });
      store.save(conv);
    `);
    const r = await runNode(script, []);
    assert.equal(r.code, null, 'the child died by a signal');
    fs.rmSync(script);
    const temps = fs.readdirSync(dir).filter((n) => n.includes('.tmp-'));
    assert.equal(temps.length, 1, 'the fsynced temp file is left behind');
    assert.ok(fs.readFileSync(path.join(dir, temps[0]!), 'utf8').includes('CHANGED'));
    assert.equal(fs.readFileSync(path.join(dir, `conv-${conv.id}.json`), 'utf8'), before, 'old content intact');
    // The next store opens the old version, lists it, and clears the leftover temp file.
    const next = new HistoryStore(dir, { staleTempMs: 0 });
    assert.deepEqual(await next.open(conv.id), conv);
    const list = await next.list();
    assert.deepEqual(list.conversations.map((s) => s.title), ['Keep me']);
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('.tmp-')), []);
  });

  it('a failing rename (in-process) leaves the old file and no temp file', async () => {
    const conv = conversation('Old', 2);
    await new HistoryStore(dir).save(conv);
    const failing = new HistoryStore(dir, { beforeRename: () => { throw new Error('disk full'); } });
    await assert.rejects(failing.save({ ...conv, title: 'New' }), (e: HistoryError) => e.kind === 'io' && /could not be saved: disk full/.test(e.message));
    assert.equal((await new HistoryStore(dir).open(conv.id)).title, 'Old');
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('.tmp-')), []);
  });

  it('a corrupt conversation gives a clear error, is quarantined as .corrupt-<ts>, and nothing else is lost', async () => {
    const store = new HistoryStore(dir, { now: () => Date.parse('2025-01-02T03:04:05.678Z') });
    const good = conversation('Good chat', 2, 1000);
    const bad = conversation('Broken chat', 2, 2000);
    await store.save(good);
    await store.save(bad);
    const badFile = path.join(dir, `conv-${bad.id}.json`);
    fs.writeFileSync(badFile, fs.readFileSync(badFile, 'utf8').slice(0, 120)); // torn by something outside our control
    await assert.rejects(store.open(bad.id), (e: HistoryError) => {
      assert.equal(e.kind, 'corrupt');
      assert.match(e.message, /^The conversation "Broken chat" could not be opened: it is not valid JSON \(.*\)\. The damaged file was kept as conv-.*\.json\.corrupt-2025-01-02T03-04-05-678Z; your other conversations are not affected\.$/);
      assert.ok(fs.existsSync(e.quarantinedTo!));
      return true;
    });
    assert.deepEqual((await store.list()).conversations.map((s) => s.title), ['Good chat']);
    assert.deepEqual(await store.open(good.id), good);
    // wrong shape (valid JSON) is corrupt too
    const other = conversation('Shape', 2, 3000);
    await store.save(other);
    fs.writeFileSync(path.join(dir, `conv-${other.id}.json`), JSON.stringify({ ...other, turns: [{ role: 'robot' }] }));
    await assert.rejects(store.open(other.id), (e: HistoryError) => e.kind === 'corrupt' && /does not look like a conversation \(turns\.0\.role/.test(e.message));
  });

  it('a damaged file found while listing is set aside with a note; the others are listed', async () => {
    const store = new HistoryStore(dir);
    const good = conversation('Good', 2);
    await store.save(good);
    fs.writeFileSync(path.join(dir, 'conv-stray.json'), '{"version":1,');
    const list = await store.list();
    assert.deepEqual(list.conversations.map((s) => s.id), [good.id]);
    assert.equal(list.problems.length, 1);
    assert.match(list.problems[0]!, /conv-stray\.json\) was damaged .* set aside as conv-stray\.json\.corrupt-/);
    assert.ok(fs.readdirSync(dir).some((n) => n.startsWith('conv-stray.json.corrupt-')));
  });

  it('a corrupt index is quarantined and rebuilt from the conversation files', async () => {
    const store = new HistoryStore(dir);
    const a = conversation('A', 2, 1000);
    const b = conversation('B', 2, 2000);
    await store.save(a);
    await store.save(b);
    fs.writeFileSync(path.join(dir, 'index.json'), 'garbage');
    const list = await new HistoryStore(dir).list();
    assert.deepEqual(list.conversations.map((s) => s.title), ['B', 'A']);
    assert.match(list.problems[0]!, /index was damaged .* rebuilt from the conversation files/);
    assert.deepEqual((await new HistoryStore(dir).list()).problems, [], 'repaired for good');
  });

  it('a conversation written but not indexed (crash between the two writes) is still listed', async () => {
    const store = new HistoryStore(dir);
    const a = conversation('Indexed', 2, 1000);
    await store.save(a);
    const orphan = conversation('Orphan', 2, 2000);
    fs.writeFileSync(path.join(dir, `conv-${orphan.id}.json`), JSON.stringify(orphan));
    assert.deepEqual((await store.list()).conversations.map((s) => s.title), ['Orphan', 'Indexed']);
  });

  it('a conversation from a newer version is left untouched with a clear message', async () => {
    const store = new HistoryStore(dir);
    const c = conversation('Future', 2);
    fs.writeFileSync(path.join(dir, `conv-${c.id}.json`), JSON.stringify({ ...c, version: 2 }));
    await assert.rejects(store.open(c.id), (e: HistoryError) => e.kind === 'unsupported' && /newer version/.test(e.message));
    assert.ok(fs.existsSync(path.join(dir, `conv-${c.id}.json`)));
  });

  it('concurrent saves from one store are serialised (index keeps every conversation)', async () => {
    const store = new HistoryStore(dir);
    const convs = Array.from({ length: 20 }, (_, i) => conversation(`c${i}`, 2, 1000 + i));
    await Promise.all(convs.map((c) => store.save(c)));
    assert.equal((await new HistoryStore(dir).list()).conversations.length, 20);
  });

  it('reopens a 1,000-turn conversation fast (reported; budget 100 ms)', async () => {
    const conv = longConversation(1000);
    await new HistoryStore(dir).save(conv);
    const size = fs.statSync(path.join(dir, `conv-${conv.id}.json`)).size;
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const store = new HistoryStore(dir); // a fresh store: nothing cached
      const t0 = performance.now();
      const c = await store.open(conv.id);
      times.push(performance.now() - t0);
      assert.equal(c.turns.length, 1000);
    }
    times.sort((a, b) => a - b);
    const median = times[3]!;
    console.log(`      1,000-turn conversation (${(size / 1024 / 1024).toFixed(1)} MB): reopen median ${median.toFixed(1)} ms, max ${times[6]!.toFixed(1)} ms`);
    assert.ok(median < 500, `median ${median.toFixed(1)} ms — far over the 100 ms budget`);
  });
});
