// The demo prints curl commands that work: through the proxy 200, straight to the simulated OAC 401.
import t from 'tap'
import { request } from 'undici'
import { startDemo } from '../../src/cli/demo.js'
import { LogCapture } from '../helpers.js'

t.test('the printed curl commands work as printed', async (t) => {
  const printed: string[] = []
  const logs = new LogCapture()
  const demo = await startDemo({
    port: 0,
    tokenLifetimeS: 100,
    logger: logs.logger('info'),
    out: (l) => printed.push(l),
  })
  t.teardown(() => demo.close())
  const text = printed.join('\n')
  const urls = [...text.matchAll(/curl -s(i?) (http:\/\/127\.0\.0\.1:\d+\/api\/20210901\/snapshots)$/gm)]
  t.equal(urls.length, 2, 'one through the proxy, one straight to OAC')
  const [viaProxy, direct] = urls
  t.equal(viaProxy?.[1], '')
  const res = await request(viaProxy?.[2] as string)
  t.equal(res.statusCode, 200)
  t.same(await res.body.json(), { items: [] })
  const refused = await request(direct?.[2] as string)
  t.equal(refused.statusCode, 401)
  t.match(refused.headers['www-authenticate'], /invalid_token/)
  await refused.body.dump()
  t.match(text, new RegExp(`curl -s -X POST ${demo.proxy.url}/api/20210901/snapshots`))
  t.notOk(text.includes(demo.simulator.clientSecret), 'the client secret is not printed')
})
