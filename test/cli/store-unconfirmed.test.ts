// token on a shared store that stops answering between the refresh and its write: the rotated refresh token is kept in
// the state file, and the message says how to put it back (migrate --to redis).
import t, { type Test } from 'tap'
import { loadConfig } from '../../src/config/load.js'
import { fleetToken, openCommandStore, withStateFileFallback } from '../../src/cli/shared-store.js'
import { ProxyError } from '../../src/shared/errors.js'
import { FileStore } from '../../src/token/store/file.js'
import { LogCapture } from '../helpers.js'
import { writeStoreConfig } from '../helpers/store-config.js'
import { simulatorFor, tempFolder } from '../helpers/cli-run.js'
import { redisMissing, startRedis } from '../helpers/redis-server.js'

/** The simulator, a Redis and a configuration on it with short command timeouts (a refresh token given or not). */
async function storeSetup(t: Test, withRefreshToken: boolean) {
  const sim = await simulatorFor(t)
  const redis = await startRedis(t)
  const dir = tempFolder(t)
  const { configPath } = await writeStoreConfig(dir, sim, redis, { commandTimeoutSeconds: 0.5 })
  const env = withRefreshToken ? { OAC_PROXY_REFRESH_TOKEN: sim.issueRefreshToken() } : {}
  return { sim, redis, config: loadConfig({ configPath, env, cwd: dir }) }
}

t.test(
  'an unconfirmed write keeps the rotated refresh token in the state file',
  { skip: redisMissing() ?? false },
  async (t) => {
    const { sim, redis, config } = await storeSetup(t, true)
    // the identity domain answers after 1.5 s; Redis goes away meanwhile, before the write
    sim.faults.idcs.next({ kind: 'latency', ms: 1_500 })
    const pending = fleetToken(config, config.credentials[0]!, new LogCapture().logger())
    await new Promise((r) => setTimeout(r, 500))
    await redis.stop()
    const err = (await pending.catch((e: unknown) => e)) as ProxyError
    t.type(err, ProxyError)
    t.equal(err.code, 'store_unavailable')
    t.match(err.message, `its refresh token is kept in ${config.stateFile}`)
    t.match(err.hint, /oac-token-proxy migrate --to redis/)
    const rotated = sim.issued.refreshTokens.at(-1)
    const file = FileStore.open(config.stateFile)
    t.teardown(() => file.close())
    t.equal(file.load('default')?.refreshToken, rotated, 'the newest refresh token is in the state file')
    t.notMatch(err.message, rotated as string)
  },
)

t.test(
  'a sign-in the store cannot take is kept in the state file, with the way back',
  { skip: redisMissing() ?? false },
  async (t) => {
    const { sim, redis, config } = await storeSetup(t, false)
    const shared = await openCommandStore(config, new LogCapture().logger())
    const target = withStateFileFallback(shared.wiring.store, config)
    t.teardown(() => target.close())
    await redis.stop()
    const signedIn = sim.issueRefreshToken()
    const err = (await target.save('default', { refreshToken: signedIn }).catch((e: unknown) => e)) as ProxyError
    t.equal(err.code, 'store_unavailable')
    t.match(err.message, `the new refresh token is kept in ${config.stateFile}`)
    t.match(err.hint, /oac-token-proxy migrate --to redis/)
    t.notMatch(err.message, signedIn)
    const file = FileStore.open(config.stateFile)
    t.teardown(() => file.close())
    t.equal(file.load('default')?.refreshToken, signedIn)
  },
)
