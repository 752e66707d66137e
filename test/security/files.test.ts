// Files the proxy writes: never through a planted symlink or another user's file, never a huge state file read whole.
import t, { type Test } from 'tap'
import { chownSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileStore, MAX_STATE_FILE_BYTES } from '../../src/token/store/file.js'
import { startStack } from '../helpers.js'

const VICTIM_TEXT = 'precious: do not overwrite\n'
const isRoot = process.getuid?.() === 0

function dirWithVictim(t: Test): { dir: string; state: string; victim: string } {
  const dir = mkdtempSync(join(tmpdir(), 'oac-token-proxy-files-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const victim = join(dir, 'victim.txt')
  writeFileSync(victim, VICTIM_TEXT, { mode: 0o644 })
  return { dir, state: join(dir, 'state.json'), victim }
}

t.test('a symlink planted at the lock rewrite name is neither followed nor kept', async (t) => {
  const { state, victim } = dirWithVictim(t)
  // the name the lock rewrite used to have: predictable when the proxy is PID 1 in a container
  symlinkSync(victim, `${state}.lock.${process.pid}.tmp`)
  const store = FileStore.open(state)
  t.teardown(() => store.close())
  store.advertise({ adminUrl: 'http://127.0.0.1:1', adminKey: 'a'.repeat(43) })
  t.equal(readFileSync(victim, 'utf8'), VICTIM_TEXT, 'the victim file is untouched')
  t.notOk(lstatSync(store.lockPath).isSymbolicLink(), 'the lock is a regular file')
  t.match(JSON.parse(readFileSync(store.lockPath, 'utf8')), { pid: process.pid, adminUrl: 'http://127.0.0.1:1' })
})

t.test('a state or lock path that is a symlink is refused at start, with a clear error', async (t) => {
  for (const which of ['state', 'lock'] as const) {
    const { state, victim } = dirWithVictim(t)
    symlinkSync(victim, which === 'state' ? state : `${state}.lock`)
    t.throws(() => FileStore.open(state), {
      code: 'file_unsafe',
      message: new RegExp(`the state ${which === 'lock' ? 'lock ' : ''}file .* is a symbolic link`),
    })
    t.equal(readFileSync(victim, 'utf8'), VICTIM_TEXT, `${which}: the victim file is untouched`)
  }
})

t.test('a state file owned by another user is refused', { skip: !isRoot && 'needs root to chown' }, async (t) => {
  const { state } = dirWithVictim(t)
  writeFileSync(state, JSON.stringify({ version: 1, credentials: {} }), { mode: 0o600 })
  chownSync(state, 65534, 65534)
  t.throws(() => FileStore.open(state), { code: 'file_unsafe', message: /belongs to another user \(uid 65534/ })
})

t.test(
  'a lock or token file owned by another user is refused',
  { skip: !isRoot && 'needs root to chown' },
  async (t) => {
    const { state } = dirWithVictim(t)
    writeFileSync(`${state}.lock`, JSON.stringify({ pid: 1, hostname: 'elsewhere', startedAtMs: 0 }), { mode: 0o600 })
    chownSync(`${state}.lock`, 65534, 65534)
    t.throws(() => FileStore.open(state), {
      code: 'file_unsafe',
      message: /state lock file .* belongs to another user/,
    })
    await t.rejects(
      startStack(t, {
        beforeProxy: (_sim, dir) => {
          writeFileSync(join(dir, 'token'), 'x', { mode: 0o600 })
          chownSync(join(dir, 'token'), 65534, 65534)
        },
        file: { tokenFile: 'token' },
      }),
      { code: 'file_unsafe', message: /token file .* belongs to another user/ },
    )
  },
)

t.test('an oversized state file is refused without being read whole', async (t) => {
  const { state } = dirWithVictim(t)
  writeFileSync(state, '{"version":1,"credentials":{},"pad":"' + 'x'.repeat(MAX_STATE_FILE_BYTES) + '"}', {
    mode: 0o600,
  })
  t.throws(() => FileStore.open(state), {
    code: 'state_too_large',
    message: /state file .*state\.json is larger than 1048576 bytes/,
    hint: /move it aside/,
  })
})

t.test('a token file or unix socket path that is a symlink is refused at start', async (t) => {
  for (const [key, value] of [
    ['tokenFile', 'token'],
    ['listen', { socket: 'token' }],
  ] as const) {
    await t.rejects(
      startStack(t, {
        beforeProxy: (_sim, dir) => {
          writeFileSync(join(dir, 'victim.txt'), VICTIM_TEXT)
          symlinkSync(join(dir, 'victim.txt'), join(dir, 'token'))
        },
        file: { [key]: value },
      }),
      { code: 'file_unsafe', message: /is a symbolic link/ },
      key,
    )
  }
})
