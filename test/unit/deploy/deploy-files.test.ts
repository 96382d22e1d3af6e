/**
 * What an operator copies from deploy/ is checked by the tools that will read it: `systemd-analyze
 * verify` on the units, `haproxy -c` and `nginx -t` on the load balancer configs (Debian packages
 * systemd, haproxy, nginx-light; `.ci/run` installs the last two when root). Skipped, with the
 * reason, where a tool is missing. Also: the load balancers health-check the native port and keep
 * the proxies' ports (a proxy tells its endpoints apart by the signed Host's port).
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import test from 'ava'

const run = promisify(execFile)
const DEPLOY = resolve(import.meta.dirname, '../../../deploy')

async function has(tool: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${tool}`])
    return true
  } catch {
    return false
  }
}

test('the systemd units verify, run as a dedicated user with only the data directory writable, and stop gracefully', async (t) => {
  for (const unit of ['dynamo-node.service', 'dynamo-proxy.service']) {
    const text = readFileSync(join(DEPLOY, 'systemd', unit), 'utf8')
    for (const line of ['User=dynamo', 'Restart=on-failure', 'ProtectSystem=strict', 'KillSignal=SIGTERM', 'NoNewPrivileges=true']) t.true(text.includes(`\n${line}\n`), `${unit}: ${line}`)
    t.regex(text, /\nLimitNOFILE=\d+\n/)
    t.is(text.includes('ReadWritePaths=/var/lib/dynamo'), unit === 'dynamo-node.service', `${unit}: only the node writes, to its data directory`)
  }
  if (!(await has('systemd-analyze'))) {
    t.log('skipped systemd-analyze verify: systemd is not installed')
    return
  }
  const { stderr } = await run('systemd-analyze', ['verify', join(DEPLOY, 'systemd/dynamo-node.service'), join(DEPLOY, 'systemd/dynamo-proxy.service')])
  t.is(stderr.trim(), '', stderr)
})

test('HAProxy: both endpoints on the proxies own ports, health-checked on the native /health; the config is valid', async (t) => {
  const cfg = readFileSync(join(DEPLOY, 'haproxy/haproxy.cfg'), 'utf8')
  t.regex(cfg, /bind :8080\n/)
  t.regex(cfg, /bind :9000\n/)
  t.is(cfg.match(/option httpchk GET \/health/g)?.length, 2)
  for (const line of cfg.split('\n').filter((l) => /^\s+server .*:9000 /.test(l))) t.true(line.endsWith('check port 8080'), line)
  if (!(await has('haproxy'))) {
    t.log('skipped haproxy -c: haproxy is not installed (apt-get install haproxy)')
    return
  }
  await t.notThrowsAsync(run('haproxy', ['-c', '-q', '-f', join(DEPLOY, 'haproxy/haproxy.cfg')]))
})

test('nginx: streams bodies unbuffered without a size limit, keeps the Host header; the config is valid', async (t) => {
  const params = readFileSync(join(DEPLOY, 'nginx/dynamo-proxy-params.conf'), 'utf8')
  for (const line of ['client_max_body_size 0;', 'proxy_request_buffering off;', 'proxy_buffering off;', 'proxy_set_header Host $http_host;']) t.true(params.includes(line), line)
  if (!(await has('nginx'))) {
    t.log('skipped nginx -t: nginx is not installed (apt-get install nginx-light)')
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'deploy-nginx-'))
  try {
    const site = readFileSync(join(DEPLOY, 'nginx/dynamo.conf'), 'utf8').replaceAll('/etc/nginx/dynamo-proxy-params.conf', join(DEPLOY, 'nginx/dynamo-proxy-params.conf'))
    writeFileSync(join(dir, 'dynamo.conf'), site)
    writeFileSync(join(dir, 'nginx.conf'), `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  include ${dir}/dynamo.conf;\n}\n`)
    await t.notThrowsAsync(run('nginx', ['-t', '-q', '-c', join(dir, 'nginx.conf'), '-p', dir]))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
