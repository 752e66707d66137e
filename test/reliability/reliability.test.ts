// Reliability suite: SIGKILLs and bad configs (short here; SOAK_LONG=1 via `npm run soak` is long).
import t from 'tap'
import { runBadConfigs, runCrashes } from './bad-config.test.js'
import { LONG } from './helpers.js'

// SOAK_PARTS=1,3 runs only those parts (for working on one of them); SOAK_SEED replays the kill moments
const parts = new Set((process.env.SOAK_PARTS ?? '1,2,3,4').split(',').map((p) => p.trim()))
const seed = Number(process.env.SOAK_SEED) || Math.floor(Math.random() * 2 ** 31)

// short: the two parts side by side, about 70 s; long: one after another, so each figure is taken alone
t.setTimeout(LONG ? 1_800_000 : 240_000)
t.jobs = LONG ? 1 : 4

t.test('3. crash consistency: SIGKILL around refreshes, restart, resume', { skip: !parts.has('3') }, (t) =>
  runCrashes(t, { kills: LONG ? 100 : 20, maxWaitMs: 1500, seed }),
)
t.test('4. bad configurations through the built CLI', { skip: !parts.has('4') }, (t) =>
  runBadConfigs(t, { short: !LONG, concurrency: 2 }),
)
