/**
 * What an operator copies from deploy/ is checked by the tools that will read it: `systemd-analyze
 * verify` on the units, `haproxy -c` and `nginx -t` on the load balancer configs (Debian packages
 * systemd, haproxy, nginx-light; `.ci/run` installs the last two when root). Skipped, with the
 * reason, where a tool is missing. Also: the load balancers health-check the native port and keep
 * the proxies' ports (a proxy tells its endpoints apart by the signed Host's port); and each unit's
 * command line, with its env example's values, is one the node's or proxy's own parser accepts
 * (TLS files and all), so a renamed flag cannot leave the units behind.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import test from 'ava'
import { parseProxyConfig } from '../../../proxy/config.js'
import { memberFiles, tlsInit } from '../../../shared/tls/member-certs.js'
import { parseNodeConfig } from '../../../storage-node/config.js'

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

/** A unit's ExecStart arguments after main.js, with the env file's values put in as systemd does (`${V}`: one word, `$V`: split into words). */
function unitArgs(unit: string, envFile: string, files: Record<string, string>): string[] {
  const env = new Map<string, string>()
  for (const line of readFileSync(join(DEPLOY, 'systemd', envFile), 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line)
    if (m) env.set(m[1] as string, m[2] as string)
  }
  const exec = /\nExecStart=(.*)\n/.exec(readFileSync(join(DEPLOY, 'systemd', unit), 'utf8'))?.[1] ?? ''
  const words = exec
    .replace(/\$\{([A-Z0-9_]+)\}|\$([A-Z0-9_]+)/g, (_, braced?: string, bare?: string) => env.get((braced ?? bare) as string) ?? '')
    .split(/\s+/)
    .filter(Boolean)
  return words.slice(words.findIndex((w) => w.endsWith('main.js')) + 1).map((w) => files[w] ?? w)
}

test("each unit's command line, with its env example, parses as the node's or proxy's flags, TLS files included", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'deploy-flags-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  tlsInit(dir, ['node-1', 'proxy-1'])
  writeFileSync(join(dir, 'cluster.secret'), 'a'.repeat(64))
  const node1 = memberFiles(dir, 'node-1')
  const proxy1 = memberFiles(dir, 'proxy-1')
  // The paths the units and examples name, here: the certificates tls init wrote, a secret, a data dir.
  const files = {
    '/etc/dynamo/cluster.secret': join(dir, 'cluster.secret'),
    '/var/lib/dynamo': join(dir, 'data'),
    '/etc/dynamo/tls/ca.crt': node1.caFile,
    '/etc/dynamo/tls/node-1.crt': node1.certFile,
    '/etc/dynamo/tls/node-1.key': node1.keyFile,
    '/etc/dynamo/tls/proxy-1.crt': proxy1.certFile,
    '/etc/dynamo/tls/proxy-1.key': proxy1.keyFile,
    '/etc/dynamo/tls/public.crt': proxy1.certFile,
    '/etc/dynamo/tls/public.key': proxy1.keyFile,
  }
  const node = parseNodeConfig(unitArgs('dynamo-node.service', 'node.env.example', files), {})
  t.is(node.id, 'node-1')
  t.is(node.tls?.id, 'node-1', 'the node runs with its member certificate')
  const proxy = parseProxyConfig(unitArgs('dynamo-proxy.service', 'proxy.env.example', files), {})
  t.is(proxy.tls?.id, 'proxy-1', 'the proxy runs with its member certificate')
  t.truthy(proxy.publicTls, 'and HTTPS on its ports')
  t.is(proxy.s3Port, 9000)
})
