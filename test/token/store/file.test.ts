// Token stores: FileStore persistence (atomic, 0600), its process lock and its errors; MemoryStore copies.
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { ProxyError } from '../../../src/shared/errors.js'
import { FileStore, STATE_FILE_MODE, STATE_FILE_VERSION } from '../../../src/token/store/file.js'
import { MemoryStore } from '../../../src/token/store/memory.js'
import type { CredentialState } from '../../../src/token/store/types.js'

const STATE: CredentialState = {
  refreshToken: 'rt-1',
  refreshTokenObtainedAtMs: 1000,
  subject: 'alice',
  updatedAtMs: 2000,
}

/** A FileStore on a fresh directory, closed at the end of the test. */
function openStore(t: Test, files: Record<string, string> = {}): { store: FileStore; dir: string; path: string } {
  const dir = t.testdir(files)
  const path = join(dir, 'state.json')
  const store = FileStore.open(path)
  t.teardown(() => store.close())
  return { store, dir, path }
}

/** The ProxyError FileStore.open throws; fails the test when it does not throw. */
function openError(t: Test, path: string): ProxyError {
  try {
    const store = FileStore.open(path)
    t.teardown(() => store.close())
  } catch (err) {
    t.type(err, ProxyError)
    return err as ProxyError
  }
  t.fail('FileStore.open did not throw')
  return new ProxyError('internal_error', 'no error')
}

/** A node process that stays alive until killed at the end of the test. */
async function liveProcess(t: Test): Promise<ChildProcess & { pid: number }> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' })
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  await once(child, 'spawn')
  return child as ChildProcess & { pid: number }
}

/** The pid of a process that has already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  return child.pid as number
}

function lockText(pid: number, host = hostname()): string {
  return JSON.stringify({ pid, hostname: host, startedAtMs: Date.now() }) + '\n'
}

t.test('an absent state file is an empty state', async (t) => {
  const { store, path } = openStore(t)
  t.equal(store.load('default'), undefined)
  t.notOk(existsSync(path), 'nothing written until the first save')
})

t.test('save, close and reopen returns the state', async (t) => {
  const { store, path } = openStore(t)
  await store.save('default', STATE)
  await store.save('other', { refreshToken: 'rt-other' })
  await store.close()
  const again = FileStore.open(path)
  t.teardown(() => again.close())
  t.same(again.load('default'), STATE)
  t.same(again.load('other'), { refreshToken: 'rt-other' })
})

t.test('the file on disk has the versioned shape', async (t) => {
  const { store, path } = openStore(t)
  await store.save('default', STATE)
  t.same(JSON.parse(readFileSync(path, 'utf8')), { version: STATE_FILE_VERSION, credentials: { default: STATE } })
})

t.test('load returns a copy', async (t) => {
  const { store } = openStore(t)
  await store.save('default', STATE)
  const loaded = store.load('default') as CredentialState
  loaded.refreshToken = 'changed'
  t.equal(store.load('default')?.refreshToken, 'rt-1')
})

t.test('the state file has mode 0600', async (t) => {
  const { store, path } = openStore(t)
  await store.save('default', STATE)
  t.equal(statSync(path).mode & 0o777, STATE_FILE_MODE)
  t.equal(STATE_FILE_MODE, 0o600)
})

t.test('the lock file has mode 0600', async (t) => {
  const { store } = openStore(t)
  t.equal(statSync(store.lockPath).mode & 0o777, 0o600)
})

t.test('no temporary files are left after saves', async (t) => {
  const { store, dir } = openStore(t)
  for (let i = 0; i < 5; i++) await store.save('default', { refreshToken: `rt-${i}` })
  t.same(readdirSync(dir).sort(), ['state.json', 'state.json.lock'])
})

t.test('temporary files left by a killed writer are removed when the lock is taken', async (t) => {
  const state = JSON.stringify({ version: STATE_FILE_VERSION, credentials: { oac: STATE } })
  const { store, dir } = openStore(t, {
    'state.json': state,
    '.state.json.4242.0badc0de.tmp': '{"version":1,"credentials":{"oac":{"refre',
    '.state.json.77.deadbeef.tmp': '',
    'state.json.lock.4242.tmp': '{}',
    // not ours: another state file's temp file, a look-alike and an unrelated file
    '.other.json.4242.0badc0de.tmp': 'x',
    '.state.json.4242.nothex!.tmp': 'x',
    'notes.txt': 'x',
  })
  t.equal(store.removedTempFiles, 3)
  t.same(readdirSync(dir).sort(), [
    '.other.json.4242.0badc0de.tmp',
    '.state.json.4242.nothex!.tmp',
    'notes.txt',
    'state.json',
    'state.json.lock',
  ])
  t.same(store.load('oac'), STATE, 'the state file itself is untouched')
})

t.test('many concurrent saves end with the last state on disk', async (t) => {
  const { store, dir, path } = openStore(t)
  const saves = Array.from({ length: 50 }, (_, i) => store.save('default', { refreshToken: `rt-${i}` }))
  await Promise.all(saves)
  t.same(JSON.parse(readFileSync(path, 'utf8')), {
    version: STATE_FILE_VERSION,
    credentials: { default: { refreshToken: 'rt-49' } },
  })
  t.same(readdirSync(dir).sort(), ['state.json', 'state.json.lock'])
})

t.test('open writes this process into the lock file', async (t) => {
  const { store } = openStore(t)
  const lock = JSON.parse(readFileSync(store.lockPath, 'utf8')) as Record<string, unknown>
  t.equal(lock.pid, process.pid)
  t.equal(lock.hostname, hostname())
})

t.test('a lock held by a live process is refused with state_locked naming the pid', async (t) => {
  const child = await liveProcess(t)
  const lock = lockText(child.pid)
  const dir = t.testdir({ 'state.json.lock': lock })
  const err = openError(t, join(dir, 'state.json'))
  t.equal(err.code, 'state_locked')
  t.match(err.message, new RegExp(`\\b${child.pid}\\b`))
  t.equal(readFileSync(join(dir, 'state.json.lock'), 'utf8'), lock, 'lock left alone')
})

t.test('a lock from a dead process is taken over', async (t) => {
  const pid = await deadPid()
  const dir = t.testdir({ 'state.json.lock': lockText(pid) })
  const store = FileStore.open(join(dir, 'state.json'))
  t.teardown(() => store.close())
  t.equal((JSON.parse(readFileSync(store.lockPath, 'utf8')) as { pid: number }).pid, process.pid)
  t.same(readdirSync(dir), ['state.json.lock'], 'no stale lock copy left')
})

t.test('an unreadable lock file is treated as stale', async (t) => {
  const dir = t.testdir({ 'state.json.lock': 'not json' })
  const store = FileStore.open(join(dir, 'state.json'))
  t.teardown(() => store.close())
  t.equal((JSON.parse(readFileSync(store.lockPath, 'utf8')) as { pid: number }).pid, process.pid)
})

t.test('a lock from another host untouched for an hour is taken over', async (t) => {
  const dir = t.testdir({ 'state.json.lock': lockText(1, 'another-host.example') })
  const hourAgo = new Date(Date.now() - 3600_000)
  utimesSync(join(dir, 'state.json.lock'), hourAgo, hourAgo)
  const store = FileStore.open(join(dir, 'state.json'))
  t.teardown(() => store.close())
  const lock = JSON.parse(readFileSync(store.lockPath, 'utf8')) as { pid: number; hostname: string }
  t.same([lock.pid, lock.hostname], [process.pid, hostname()])
})

t.test('a fresh lock from another host is refused', async (t) => {
  const dir = t.testdir({ 'state.json.lock': lockText(1, 'another-host.example') })
  const err = openError(t, join(dir, 'state.json'))
  t.equal(err.code, 'state_locked')
  t.match(err.message, 'another-host.example')
})

t.test('corrupt JSON gives state_corrupt', async (t) => {
  const dir = t.testdir({ 'state.json': '{"version": 1, "credentials": {' })
  const err = openError(t, join(dir, 'state.json'))
  t.equal(err.code, 'state_corrupt')
})

t.test('a refused state file leaves no lock behind', async (t) => {
  const dir = t.testdir({ 'state.json': 'garbage' })
  const err = openError(t, join(dir, 'state.json'))
  t.equal(err.code, 'state_corrupt')
  t.notOk(existsSync(join(dir, 'state.json.lock')))
})

t.test('a wrong version gives state_corrupt', async (t) => {
  const dir = t.testdir({ 'state.json': JSON.stringify({ version: STATE_FILE_VERSION + 1, credentials: {} }) })
  const err = openError(t, join(dir, 'state.json'))
  t.equal(err.code, 'state_corrupt')
})

t.test('credentials that are not an object give state_corrupt', async (t) => {
  const dir = t.testdir({ 'state.json': JSON.stringify({ version: STATE_FILE_VERSION, credentials: null }) })
  const err = openError(t, join(dir, 'state.json'))
  t.equal(err.code, 'state_corrupt')
})

t.test('close() removes the lock file', async (t) => {
  const { store } = openStore(t)
  t.ok(existsSync(store.lockPath))
  await store.close()
  t.notOk(existsSync(store.lockPath))
})

t.test('close() leaves a lock that another process has taken', async (t) => {
  const child = await liveProcess(t)
  const { store } = openStore(t)
  writeFileSync(store.lockPath, lockText(child.pid))
  await store.close()
  t.equal((JSON.parse(readFileSync(store.lockPath, 'utf8')) as { pid: number }).pid, child.pid)
})

t.test('close() waits for a save in flight', async (t) => {
  const { store, path } = openStore(t)
  const saving = store.save('default', STATE)
  await store.close()
  await saving
  t.same(JSON.parse(readFileSync(path, 'utf8')).credentials.default, STATE)
})

t.test('save after close rejects with state_write_failed', async (t) => {
  const { store, path } = openStore(t)
  await store.close()
  await t.rejects(store.save('default', STATE), { code: 'state_write_failed' })
  t.notOk(existsSync(path))
})

t.test('a write into a vanished directory rejects with state_write_failed and keeps the state in memory', async (t) => {
  const dir = t.testdir({ sub: {} })
  const store = FileStore.open(join(dir, 'sub', 'state.json'))
  t.teardown(() => store.close())
  rmSync(join(dir, 'sub'), { recursive: true })
  await t.rejects(store.save('default', STATE), { code: 'state_write_failed', name: 'ProxyError' })
  t.same(store.load('default'), STATE)
})

const ROOT = process.getuid?.() === 0

t.test(
  'a write into a read-only directory rejects with state_write_failed',
  { skip: ROOT && 'root ignores directory permissions' },
  async (t) => {
    const { store, dir } = openStore(t)
    chmodSync(dir, 0o500)
    await t.rejects(store.save('default', STATE), { code: 'state_write_failed' })
    chmodSync(dir, 0o700) // before the teardown's close() removes the lock
    t.same(readdirSync(dir), ['state.json.lock'], 'no temporary file left')
  },
)

t.test('a failed save does not block the next one', async (t) => {
  const dir = t.testdir({ sub: {} })
  const path = join(dir, 'sub', 'state.json')
  const store = FileStore.open(path)
  t.teardown(() => store.close())
  rmSync(join(dir, 'sub'), { recursive: true })
  const failed = store.save('default', { refreshToken: 'rt-1' })
  await t.rejects(failed, { code: 'state_write_failed' })
  mkdirSync(join(dir, 'sub'))
  await store.save('default', { refreshToken: 'rt-2' })
  t.same(JSON.parse(readFileSync(path, 'utf8')).credentials, { default: { refreshToken: 'rt-2' } })
})

t.test('MemoryStore keeps copies and counts saves', async (t) => {
  const store = new MemoryStore()
  const state: CredentialState = { refreshToken: 'rt-1' }
  await store.save('default', state)
  state.refreshToken = 'changed'
  const loaded = store.load('default') as CredentialState
  loaded.refreshToken = 'changed too'
  t.same(store.load('default'), { refreshToken: 'rt-1' })
  t.equal(store.saves, 1)
  t.equal(store.load('other'), undefined)
})

t.test('a second open of the same state file in one process is refused', async (t) => {
  const { path, store } = openStore(t)
  const err = openError(t, path)
  t.equal(err.code, 'state_locked')
  await store.close()
  const again = FileStore.open(path)
  t.teardown(() => again.close())
  t.pass('reopens once closed')
})

t.test('a lock left by a previous run with this same pid (a container PID 1) is taken over', async (t) => {
  const dir = t.testdir({ 'state.json.lock': lockText(process.pid) })
  const store = FileStore.open(join(dir, 'state.json'))
  t.teardown(() => store.close())
  t.equal((JSON.parse(readFileSync(store.lockPath, 'utf8')) as { pid: number }).pid, process.pid)
})
