// HTTP side of the device flow: POST /oauth2/v1/device and the verification page at /ui/v1/device.

import { checkScope } from '../access-tokens.js'
import { DEFAULT_USER_PASSWORD, GRANT_DEVICE_CODE } from '../constants.js'
import { normalizeUserCode } from './device.js'
import { sendJson } from '../http-util.js'
import type { RequestContext } from '../http-util.js'
import { NO_STORE, authenticate, escapeHtml, oauthError, readForm, rejectClient, sendHtml } from './util.js'
import type { IdcsDeps } from './deps.js'

export const DEVICE_PATH = '/oauth2/v1/device'
export const VERIFICATION_PATH = '/ui/v1/device'

/** POST /oauth2/v1/device: a device authorization request (RFC 8628 section 3.1). */
export async function handleDeviceAuthorization(ctx: RequestContext, deps: IdcsDeps): Promise<void> {
  ctx.call.grantType = GRANT_DEVICE_CODE
  const form = await readForm(ctx, (message) => oauthError(ctx, 400, 'invalid_request', message))
  if (!form) return
  const client = await authenticate(ctx, deps, form)
  if (client.kind === 'invalid') {
    rejectClient(ctx, client)
    return
  }
  const scope = checkScope(form.get('scope'))
  if (form.get('response_type') !== 'device_code') {
    oauthError(ctx, 400, 'invalid_request', 'response_type must be device_code.')
  } else if ('problem' in scope) {
    oauthError(ctx, 400, 'invalid_scope', scope.problem)
  } else if (!deps.directory.allows(client.clientId, GRANT_DEVICE_CODE)) {
    oauthError(ctx, 400, 'unauthorized_client', 'Client is not authorized for this grant type.')
  } else {
    const created = deps.devices.create(client.clientId, scope.scope)
    const body: Record<string, unknown> = {
      device_code: created.deviceCode,
      user_code: created.userCode,
      verification_uri: deps.urls.idcsUrl + VERIFICATION_PATH,
      expires_in: created.expiresIn,
    }
    if (deps.deviceIntervalS !== undefined) body.interval = deps.deviceIntervalS
    sendJson(ctx, 200, body, NO_STORE)
  }
}

/** The simulator's demo user and password, shown on the page while that user still has them. */
function demoUserNote(deps: IdcsDeps): { html: string; user: string } | undefined {
  const user = deps.authorize.defaultUser
  if (deps.directory.checkPassword(user, DEFAULT_USER_PASSWORD) !== 'ok') return undefined
  return {
    user,
    html:
      '<p class="demo">This is the simulator. Sign in as the demo user ' +
      `<code>${escapeHtml(user)}</code> with the password <code>${escapeHtml(DEFAULT_USER_PASSWORD)}</code>.</p>`,
  }
}

function verificationForm(userCode: string, deps: IdcsDeps): string {
  const demo = demoUserNote(deps)
  return (
    (demo?.html ?? '') +
    `<form method="post" action="${VERIFICATION_PATH}">` +
    `<label>Code <input name="user_code" value="${escapeHtml(userCode)}" autocomplete="off"></label>` +
    `<label>User name <input name="username" value="${escapeHtml(demo?.user ?? '')}" autocomplete="username"></label>` +
    '<label>Password <input name="password" type="password" autocomplete="current-password"></label>' +
    '<button name="action" value="approve">Allow</button>' +
    '<button name="action" value="deny">Deny</button>' +
    '</form>'
  )
}

/** GET shows the sign-in form; POST signs the user in and approves or denies the code. */
export async function handleVerificationPage(ctx: RequestContext, deps: IdcsDeps): Promise<void> {
  ctx.call.grantType = GRANT_DEVICE_CODE
  if (ctx.req.method === 'GET') {
    sendHtml(ctx, 200, 'Device sign-in', verificationForm(ctx.url.searchParams.get('user_code') ?? '', deps))
    return
  }
  const form = await readForm(ctx, (message) =>
    sendHtml(ctx, 400, 'Device sign-in failed', `<p>${escapeHtml(message)}</p>`),
  )
  if (!form) return
  const userCode = normalizeUserCode(form.get('user_code') ?? '')
  const username = form.get('username') ?? ''
  const action = form.get('action')
  const status = deps.devices.statusOf(userCode)
  const fail = (code: number, message: string) =>
    sendHtml(ctx, code, 'Device sign-in failed', `<p>${escapeHtml(message)}</p>${verificationForm(userCode, deps)}`)
  if (status === undefined) return fail(400, 'The code is not valid.')
  if (status !== 'pending') return fail(400, `The code is ${status}.`)
  if (action !== 'approve' && action !== 'deny') return fail(400, 'Choose Allow or Deny.')
  const check = deps.directory.checkPassword(username, form.get('password') ?? '')
  if (check === 'federated') return fail(401, 'Federated users sign in at their identity provider.')
  if (check !== 'ok') return fail(401, 'Invalid user name or password.')
  deps.devices.decide(userCode, action === 'approve' ? { approve: true, user: username } : { approve: false })
  const done = action === 'approve' ? 'Device approved' : 'Device denied'
  sendHtml(ctx, 200, done, '<p>You can close this window and return to your device.</p>')
}
