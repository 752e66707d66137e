// The applications the simulated IDCS admin API knows, starting with the simulator's own.

import { SIM_ADMIN_APP_ID, SIM_ADMIN_APP_NAME } from '../constants.js'

export interface AdminApp {
  id: string
  displayName: string
  active: boolean
  allowOffline: boolean
  lastModifiedMs: number
}

export class AdminApps {
  readonly #apps = new Map<string, AdminApp>()

  constructor(nowMs: number) {
    this.#apps.set(SIM_ADMIN_APP_ID, {
      id: SIM_ADMIN_APP_ID,
      displayName: SIM_ADMIN_APP_NAME,
      active: true,
      allowOffline: false,
      lastModifiedMs: nowMs,
    })
  }

  list(): AdminApp[] {
    return [...this.#apps.values()]
  }

  get(id: string): AdminApp | undefined {
    return this.#apps.get(id)
  }
}
