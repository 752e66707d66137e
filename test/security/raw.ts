// Sends exact bytes over a TCP socket and parses the HTTP answer: for requests no HTTP client would send.
import { connect } from 'node:net'

export interface RawAnswer {
  status: number | 'closed'
  headers: Record<string, string>
  body: string
  error: string | undefined
}

export function rawRequest(port: number, bytes: string | Buffer, timeoutMs = 2000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let done = false
    const finish = (): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve(parse(Buffer.concat(chunks).toString('latin1')))
    }
    const timer = setTimeout(finish, timeoutMs)
    socket.on('connect', () => socket.write(bytes))
    socket.on('data', (d: Buffer) => {
      chunks.push(d)
      const text = skipInterim(Buffer.concat(chunks).toString('latin1'))
      const end = text.indexOf('\r\n\r\n')
      if (end < 0) return
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end))
      if (length && Buffer.byteLength(text.slice(end + 4), 'latin1') >= Number(length[1])) finish()
    })
    socket.on('end', finish)
    socket.on('close', finish)
    socket.on('error', finish)
  })
}

/** Drops interim 1xx answers (100 Continue) in front of the final one. */
function skipInterim(text: string): string {
  while (/^HTTP\/1\.[01] 1\d\d /.test(text)) {
    const end = text.indexOf('\r\n\r\n')
    if (end < 0) return text
    text = text.slice(end + 4)
  }
  return text
}

function parse(raw: string): RawAnswer {
  const text = skipInterim(raw)
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text)
  if (!m) return { status: 'closed', headers: {}, body: '', error: undefined }
  const end = text.indexOf('\r\n\r\n')
  const headers: Record<string, string> = {}
  for (const line of text.slice(0, end).split('\r\n').slice(1)) {
    const i = line.indexOf(':')
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
  }
  const body = end < 0 ? '' : text.slice(end + 4)
  let error: string | undefined
  try {
    error = (JSON.parse(body) as { error?: string }).error
  } catch {
    error = undefined
  }
  return { status: Number(m[1]), headers, body, error }
}
