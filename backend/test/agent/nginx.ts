/** Test and bench support: a private nginx (the Debian package) serving files on 127.0.0.1. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './traffic.js';
import { waitFor } from '../../../test/support/wait.js';

const run = promisify(execFile);

export class Nginx {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly dir: string,
  ) {}

  /**
   * Starts nginx serving `files` (name → content) with gzip for HTML, over TLS 1.2 and 1.3 with
   * `tls`'s certificate when given; resolves once it answers.
   */
  static async start(files: Record<string, string>, tls?: { cert: string; key: string }): Promise<Nginx> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'tapline-nginx-'));
    const root = join(dir, 'www');
    mkdirSync(root);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(root, name), content);
    writeFileSync(join(dir, 'nginx.conf'), `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  types { text/html html; }
  gzip on; gzip_min_length 20; gzip_types text/html;
  server {
    listen 127.0.0.1:${port}${tls ? ' ssl' : ''};
    ${tls ? `ssl_certificate ${tls.cert}; ssl_certificate_key ${tls.key}; ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:tls:1m;` : ''}
    root ${root};
    keepalive_requests 1000000;
  }
}
`);
    const child = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
    const n = new Nginx(child, port, dir);
    const probe = Object.keys(files)[0];
    await waitFor('nginx to answer', async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}`);
      return run('curl', ['-sk', '-o', '/dev/null', `${tls ? 'https' : 'http'}://127.0.0.1:${port}/${probe}`]).then(() => true, () => false);
    });
    return n;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
