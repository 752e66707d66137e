// Shared helpers for the simulator tests: token-endpoint and OAC calls over real sockets.

import { request } from 'undici'
import type { Simulator } from '../../src/simulator/index.js'

export interface JsonAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  json: () => Record<string, unknown>
}

/** RFC 6749 2.3.1: form-encode id and secret, then base64 the pair. */
export function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => new URLSearchParams({ s }).toString().slice(2)
  return 'Basic ' + Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')
}

async function answer(res: Awaited<ReturnType<typeof request>>): Promise<JsonAnswer> {
  const text = await res.body.text()
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  }
}

export async function tokenCall(
  sim: Simulator,
  form: Record<string, string>,
  opts: { authorization?: string; contentType?: string } = {},
): Promise<JsonAnswer> {
  const headers: Record<string, string> = {
    'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
  }
  if (opts.authorization) headers.authorization = opts.authorization
  const res = await request(sim.idcsUrl + '/oauth2/v1/token', {
    method: 'POST',
    headers,
    body: new URLSearchParams(form).toString(),
  })
  return answer(res)
}

/** refresh_token grant with HTTP Basic client authentication. */
export function refresh(sim: Simulator, refreshToken: string, extra: Record<string, string> = {}) {
  return tokenCall(
    sim,
    { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra },
    { authorization: basicAuth(sim.clientId, sim.clientSecret) },
  )
}

/** A fresh access token obtained through the token endpoint. */
export async function accessToken(sim: Simulator): Promise<string> {
  const res = await refresh(sim, sim.issueRefreshToken())
  return res.json().access_token as string
}

export async function oacCall(
  sim: Simulator,
  path: string,
  opts: { token?: string; method?: string; body?: string; contentType?: string } = {},
): Promise<JsonAnswer> {
  const headers: Record<string, string> = {}
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  if (opts.contentType) headers['content-type'] = opts.contentType
  const res = await request(sim.oacUrl + path, {
    method: (opts.method ?? 'GET') as 'GET',
    headers,
    body: opts.body,
  })
  return answer(res)
}
