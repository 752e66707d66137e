import t from 'tap'
import { FakeClock } from '../src/clock.js'
t.test('fake clock', async (t) => {
  const c = new FakeClock(1000)
  let fired = 0
  c.setTimeout(() => fired++, 50)
  await c.advance(49)
  t.equal(fired, 0)
  await c.advance(1)
  t.equal(fired, 1)
  t.equal(c.now(), 1050)
})
