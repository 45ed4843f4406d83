/**
 * docker-compose.yml, checked for what the README promises. No Docker engine runs here, so the
 * file cannot be started in CI; instead its structure is checked against the repository: the
 * services, pinned images, mounts that exist, health checks behind every `service_healthy`
 * condition, the agent's capabilities, the unsigned-plugin allow list against the plugins'
 * plugin.json ids, and the Tapline commands and flags against the real CLI's help.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import yaml from 'js-yaml';

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  network_mode?: string;
  cap_add?: string[];
  cap_drop?: string[];
  privileged?: boolean;
}

const root = new URL('..', import.meta.url).pathname;
const compose = yaml.load(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;

function pluginIds(dir: string, acc: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'dist') continue;
    if (statSync(p).isDirectory()) pluginIds(p, acc);
    else if (name === 'plugin.json') acc.push((JSON.parse(readFileSync(p, 'utf8')) as { id: string }).id);
  }
  return acc;
}

describe('docker-compose.yml', () => {
  it('has the services the README promises', () => {
    for (const name of ['clickhouse', 'grafana', 'hub', 'agent', 'nginx', 'traffic']) {
      assert.ok(services[name], `service ${name}`);
    }
  });

  it('pins every image and builds Tapline from this repository', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build) {
        assert.ok(existsSync(join(root, s.build, 'Dockerfile')), `${name} builds from a Dockerfile`);
        continue;
      }
      assert.match(s.image ?? '', /^[\w./-]+:\d[\w.-]*$/, `${name} pins its image to a version`);
    }
  });

  it('mounts only files and folders the repository has (or builds)', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const [source] = v.split(':');
        if (!source.startsWith('.')) {
          assert.ok(source in compose.volumes, `${name}: named volume ${source} is declared`);
          continue;
        }
        const built = source === './plugin/dist';
        assert.ok(built || existsSync(join(root, source)), `${name}: ${source} exists`);
      }
    }
  });

  it('puts a health check behind every service_healthy condition', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        assert.ok(services[dep], `${name} depends on an existing service ${dep}`);
        if (condition === 'service_healthy') assert.ok(services[dep].healthcheck, `${dep} has a health check`);
      }
    }
    for (const name of ['clickhouse', 'hub', 'grafana', 'nginx']) assert.ok(services[name].healthcheck, name);
  });

  it('gives the agent the demo network and only the capabilities capture needs', () => {
    const agent = services.agent;
    assert.equal(agent.network_mode, 'service:nginx');
    assert.notEqual(agent.privileged, true);
    assert.deepEqual(agent.cap_drop, ['ALL']);
    assert.deepEqual([...(agent.cap_add ?? [])].sort(), ['NET_ADMIN', 'NET_RAW']);
  });

  it('exposes Grafana and the hub, and allows exactly the Tapline plugins unsigned', () => {
    assert.ok(services.grafana.ports?.includes('3000:3000'));
    assert.ok(services.hub.ports?.includes('8787:8787'));
    const allowed = (services.grafana.environment?.GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS ?? '').split(',').sort();
    assert.deepEqual(allowed, pluginIds(join(root, 'plugin/src')).sort());
    assert.match(services.grafana.environment?.GF_PLUGINS_PREINSTALL_SYNC ?? '', /grafana-clickhouse-datasource/);
    assert.ok(services.grafana.volumes?.some((v) => v.startsWith('./provisioning:/etc/grafana/provisioning')));
  });

  it('runs Tapline commands and flags that the CLI has', () => {
    for (const name of ['hub', 'agent']) {
      const [command, ...args] = services[name].command ?? [];
      const help = execFileSync('node', [join(root, 'backend/bin/tapline.js'), command, '--help'], { encoding: 'utf8' });
      for (const flag of args.filter((a) => a.startsWith('-'))) {
        assert.ok(help.includes(flag), `tapline ${command} has ${flag}`);
      }
    }
  });
});
