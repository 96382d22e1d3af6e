import Router from '@koa/router'
import test from 'ava'
import { createProxyRouter, type ProxyAppComponents, type ProxyAppConfig } from '../../../../proxy/app.js'
import { assertEveryRouteGuarded, routeNeeds } from '../../../../proxy/access/guarded-router.js'
import { UI_FILES } from '../../../../proxy/ui/static-files.js'

// The routes only capture their components when mounted: none is called here.
const router = () => createProxyRouter({ catalog: {} } as unknown as ProxyAppComponents, { kv: {}, corsOrigins: [] } as unknown as ProxyAppConfig)

const UI_ROUTES = ['GET /ui', 'GET /ui/', ...Object.keys(UI_FILES).map((f) => `GET /ui/${f}`)]

test("every route of the proxy declares what it needs; only health, metrics and the cluster page's static files are open", (t) => {
  const routes = routeNeeds(router())
  t.true(routes.length >= 20)
  for (const r of routes) t.truthy(r.need, `${r.methods.join(',')} ${r.path}`)
  const open = routes.filter((r) => r.need && 'open' in r.need).map((r) => `${r.methods.join(',')} ${r.path}`)
  t.deepEqual(open, ['GET /health', ...UI_ROUTES, 'GET /metrics'])
  const adminOnly = routes.filter((r) => r.need && 'admin' in r.need).map((r) => r.path)
  t.true(adminOnly.includes('/cluster'))
  t.true(adminOnly.includes('/cluster/status'), "the cluster page's data needs an admin key")
  t.true(adminOnly.includes('/admin/keys'))
})

test('with --metrics-token, GET /metrics needs that bearer token and health stays open', (t) => {
  const routes = routeNeeds(createProxyRouter({ catalog: {} } as unknown as ProxyAppComponents, { kv: {}, corsOrigins: [], metricsToken: 'tok' } as unknown as ProxyAppConfig))
  const metrics = routes.find((r) => r.path === '/metrics')
  t.deepEqual(metrics?.need, { bearer: 'tok' })
  t.deepEqual(
    routes.filter((r) => r.need && 'open' in r.need).map((r) => r.path),
    ['/health', ...UI_ROUTES.map((r) => r.slice('GET '.length))],
  )
})

test('a router holding a route that went around the guards is refused', (t) => {
  const r = router()
  t.notThrows(() => assertEveryRouteGuarded(r))
  r.get('/sneaky', (ctx) => {
    ctx.body = 'open door'
  })
  t.throws(() => assertEveryRouteGuarded(r), { message: /GET \/sneaky/ })
  t.true(r instanceof Router)
})
