/**
 * The proxy's router, through which every route is mounted with what it needs (guard.ts): a route
 * cannot be added without a Need, and `assertEveryRouteGuarded` refuses to start a proxy whose router
 * holds a route that went around it.
 */
import type Router from '@koa/router'
import type { Middleware } from 'koa'
import { type GuardMiddleware, type Need, needOf } from './guard.js'

type Handler = Middleware

export class GuardedRouter {
  constructor(
    readonly router: Router,
    private readonly guard: (need: Need) => GuardMiddleware,
  ) {}

  get(path: string, need: Need, ...handlers: Handler[]): void {
    this.router.get(path, this.guard(need), ...handlers)
  }
  head(path: string, need: Need, ...handlers: Handler[]): void {
    this.router.head(path, this.guard(need), ...handlers)
  }
  put(path: string, need: Need, ...handlers: Handler[]): void {
    this.router.put(path, this.guard(need), ...handlers)
  }
  post(path: string, need: Need, ...handlers: Handler[]): void {
    this.router.post(path, this.guard(need), ...handlers)
  }
  delete(path: string, need: Need, ...handlers: Handler[]): void {
    this.router.delete(path, this.guard(need), ...handlers)
  }
}

/** Each route of `router` with the Need its first middleware enforces (undefined: unguarded). */
export function routeNeeds(router: Router): { methods: string[]; path: string; need: Need | undefined }[] {
  return router.stack.map((layer) => {
    // koa-router adds HEAD to every GET route: name the route by the methods it was mounted with.
    const methods = layer.methods.length > 1 ? layer.methods.filter((m) => m !== 'HEAD') : layer.methods
    return { methods, path: String(layer.path), need: needOf(layer.stack[0]) }
  })
}

export function assertEveryRouteGuarded(router: Router): void {
  const open = routeNeeds(router).filter((r) => r.need === undefined)
  if (open.length) throw new Error(`routes without a guard (every route must declare what it needs): ${open.map((r) => `${r.methods.join(',')} ${r.path}`).join('; ')}`)
}
