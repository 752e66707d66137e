// Reliability suite: bad configs (short here; SOAK_LONG=1 via `npm run soak` is long).
import t from 'tap'
import { runBadConfigs } from './bad-config.test.js'
import { LONG } from './helpers.js'

// SOAK_PARTS=1,3 runs only those parts (for working on one of them)
const parts = new Set((process.env.SOAK_PARTS ?? '1,2,3,4').split(',').map((p) => p.trim()))

t.setTimeout(LONG ? 1_800_000 : 240_000)

t.test('4. bad configurations through the built CLI', { skip: !parts.has('4') }, (t) =>
  runBadConfigs(t, { short: !LONG, concurrency: 2 }),
)
