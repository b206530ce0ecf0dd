import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultProfile } from '../../../src/core/config/serverProfile';
import { activeProfile, parseSettings, preview, settingsShape } from '../../../src/core/config/settings';
import { contributedConfiguration } from '../../../src/core/config/settingsContribution';
import { repoRoot } from '../../support/paths';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));

describe('settings schema', () => {
  it('package.json contributes.configuration is exactly what the zod schema generates', () => {
    assert.deepEqual(pkg.contributes.configuration.properties, contributedConfiguration());
  });

  it('declares every setting under kimi. with a description and a default', () => {
    const props = pkg.contributes.configuration.properties as Record<string, { description?: string; default?: unknown }>;
    assert.deepEqual(Object.keys(props).sort(), Object.keys(settingsShape).map((k) => `kimi.${k}`).sort());
    for (const [key, p] of Object.entries(props)) {
      assert.ok(p.description && p.description.length > 10, `${key} has a description`);
      assert.notEqual(p.default, undefined, `${key} has a default`);
    }
  });

  it('settings that can run commands or redirect code are not settable by a workspace', () => {
    const props = pkg.contributes.configuration.properties as Record<string, { scope?: string }>;
    assert.equal(props['kimi.servers']!.scope, 'machine');
    assert.equal(props['kimi.endpoint.baseUrl']!.scope, 'machine');
  });

  it('parses nothing into the defaults', () => {
    const { settings, problems } = parseSettings({});
    assert.deepEqual(problems, []);
    assert.equal(settings['endpoint.baseUrl'], 'http://127.0.0.1:8000/v1');
    assert.equal(settings['chat.mode'], 'thinking');
    assert.equal(settings['chat.thinkingTemperature'], 1);
    assert.equal(settings['chat.instantTemperature'], 0.6);
    assert.equal(settings['chat.topP'], 0.95);
    assert.deepEqual(settings.servers, []);
    assert.equal(activeProfile(settings), undefined);
  });

  it('the default profile reproduces the official Kimi-K2.5 command, bound to 127.0.0.1', () => {
    const p = defaultProfile();
    assert.equal(p.host, 'local');
    assert.equal(p.model, 'moonshotai/Kimi-K2.5');
    assert.equal(p.bindHost, '127.0.0.1');
    assert.equal(p.port, 8000);
    assert.equal(p.tensorParallelSize, 8);
    assert.equal(p.mmEncoderTpMode, 'data');
    assert.equal(p.toolCallParser, 'kimi_k2');
    assert.equal(p.reasoningParser, 'kimi_k2');
    assert.equal(p.enableAutoToolChoice, true);
    assert.equal(p.trustRemoteCode, true);
  });

  it('a bad value falls back to its default and the error names the setting and the value', () => {
    const { settings, problems } = parseSettings({ 'chat.topP': 7, 'chat.mode': 'telepathy', 'endpoint.baseUrl': 'file:///etc/passwd' });
    assert.equal(settings['chat.topP'], 0.95);
    assert.equal(settings['chat.mode'], 'thinking');
    assert.equal(settings['endpoint.baseUrl'], 'http://127.0.0.1:8000/v1');
    const text = problems.map((p) => `${p.setting}: ${p.message}`).join('\n');
    assert.match(text, /kimi\.chat\.topP: .*got 7/);
    assert.match(text, /kimi\.chat\.mode: .*got "telepathy"/);
    assert.match(text, /kimi\.endpoint\.baseUrl: must be an http\(s\) URL.*got "file:\/\/\/etc\/passwd"/);
  });

  it('refuses URLs with embedded credentials', () => {
    const { problems } = parseSettings({ 'endpoint.baseUrl': 'http://user:secret@127.0.0.1:8000/v1' });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.setting, 'kimi.endpoint.baseUrl');
  });

  it('one bad server profile is reported by field and dropped; the others are kept', () => {
    const { settings, problems } = parseSettings({
      servers: [
        { name: 'gpu-a', host: 'gpu-a' },
        { name: 'bad', host: 'gpu; rm -rf ~', port: 'eighty' },
        { name: 'gpu-b', host: 'root@10.0.0.2:2222', tensorParallelSize: 4 },
      ],
      activeServer: 'gpu-b',
    });
    assert.deepEqual(settings.servers.map((p) => p.name), ['gpu-a', 'gpu-b']);
    assert.equal(activeProfile(settings)?.tensorParallelSize, 4);
    const settingsNamed = problems.map((p) => p.setting).sort();
    assert.deepEqual(settingsNamed, ['kimi.servers[1].host', 'kimi.servers[1].port']);
    assert.match(problems.find((p) => p.setting.endsWith('.host'))!.message, /got "gpu; rm -rf ~"/);
  });

  it('hostile strings in every string setting produce clear errors, never exceptions', () => {
    const hostile = ['', '\u0000\u001b[31m', 'x'.repeat(100_000), '$(reboot)', '`id`', '../../../etc', '--enable-reasoning', '\n\r', '🙂'.repeat(50)];
    for (const h of hostile) {
      for (const key of Object.keys(settingsShape)) {
        const r = parseSettings({ [key]: h } as never);
        for (const p of r.problems) {
          assert.ok(p.setting.startsWith(`kimi.${key}`), p.setting);
          assert.ok(!/[\x00-\x1f]/.test(p.message), `control characters are escaped in ${JSON.stringify(p.message)}`);
          assert.ok(p.message.length < 400);
        }
      }
      const r = parseSettings({ servers: [{ name: h, host: h, model: h, env: { [h]: h }, extraArgs: [h] }] });
      assert.ok(r.settings.servers.length <= 1);
    }
  });

  it('refuses SSH destinations that could be read as ssh options or shell syntax', () => {
    for (const host of ['-oProxyCommand=sh', 'a b', 'h;id', 'h|x', '$(id)', 'h\nx']) {
      const r = parseSettings({ servers: [{ name: 'x', host }] });
      assert.equal(r.settings.servers.length, 0, host);
      assert.equal(r.problems[0]!.setting, 'kimi.servers[0].host');
    }
    for (const host of ['local', 'gpu-box', 'root@10.1.2.3', 'me@h.example.com:2222', 'user@[::1]:22']) {
      assert.equal(parseSettings({ servers: [{ name: 'x', host }] }).settings.servers.length, 1, host);
    }
  });

  it('duplicate profile names keep the first and say so', () => {
    const { settings, problems } = parseSettings({ servers: [{ name: 'a' }, { name: 'a', port: 9000 }] });
    assert.equal(settings.servers.length, 1);
    assert.equal(settings.servers[0]!.port, 8000);
    assert.match(problems[0]!.message, /duplicate profile name "a"/);
  });

  it('previews values on one short line', () => {
    assert.equal(preview(undefined), 'nothing');
    assert.equal(preview('a\nb'), '"a\\nb"');
    assert.ok(preview('x'.repeat(500)).length <= 80);
  });
});
