// Large streamed bodies for the simulated OAC: a patterned binary download and a hashed upload.

import { createHash } from 'node:crypto'
import { DOWNLOAD_CHUNK_BYTES } from '../constants.js'
import { consumeBody, startResponse } from '../http-util.js'
import type { RequestContext } from '../http-util.js'

/** One 64 KiB block repeated to form every download: byte i of a download is PATTERN[i % 64 Ki]. */
export const DOWNLOAD_PATTERN: Buffer = (() => {
  const block = Buffer.alloc(DOWNLOAD_CHUNK_BYTES)
  for (let i = 0; i < block.length; i++) block[i] = (i * 31 + (i >> 8) * 7 + 5) & 0xff
  Buffer.from('%PDF-1.7\n').copy(block, 0)
  return block
})()

/** Stream `bytes` bytes of the pattern, honouring backpressure; never buffers the whole body. */
export function streamDownload(ctx: RequestContext, bytes: number, contentType: string): void {
  const { res } = ctx
  if (!startResponse(ctx, 200, { 'content-type': contentType, 'content-length': bytes })) return
  let remaining = bytes
  const pump = (): void => {
    while (remaining > 0) {
      if (res.destroyed) return
      const size = Math.min(remaining, DOWNLOAD_PATTERN.length)
      remaining -= size
      const chunk = size === DOWNLOAD_PATTERN.length ? DOWNLOAD_PATTERN : DOWNLOAD_PATTERN.subarray(0, size)
      if (!res.write(chunk)) {
        res.once('drain', pump)
        return
      }
    }
    res.end()
  }
  pump()
}

/** Consume an upload as a stream, answering its size and SHA-256. */
export async function hashUpload(ctx: RequestContext): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256')
  const bytes = await consumeBody(ctx.req, (chunk) => hash.update(chunk))
  return { bytes, sha256: hash.digest('hex') }
}
