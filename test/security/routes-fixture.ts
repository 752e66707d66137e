// The guarded configuration the security tests attack: OAC deny globs, a read-only /ro/ route to OAC, and an /idcs/
// route that only GETs Apps with an `admin` client-credentials token.
import type { Simulator } from '../../src/simulator/index.js'

/** The `admin` credential: an IDCS admin token from the simulator by client_credentials. */
export function adminCredential(sim: Simulator): Record<string, unknown> {
  return {
    admin: {
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
      grant: 'client_credentials',
      scope: 'urn:opc:idm:__myscopes__',
    },
  }
}

/** Credentials, deny globs and routes; `idcsAllowPaths` are the paths the /idcs/ route lets through. */
export function guardedRoutes(sim: Simulator, idcsAllowPaths: string[]): Record<string, unknown> {
  return {
    credentials: adminCredential(sim),
    access: { denyPaths: ['/api/20210901/catalog/**', '/api/20210901/system/**'] },
    routes: [
      { prefix: '/ro/', upstream: sim.oacUrl, credential: 'default', access: { readOnly: true } },
      {
        prefix: '/idcs/',
        upstream: sim.idcsUrl,
        credential: 'admin',
        access: { allowMethods: ['GET'], allowPaths: idcsAllowPaths },
      },
    ],
  }
}
