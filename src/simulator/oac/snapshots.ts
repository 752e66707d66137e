// Snapshots and the work requests that create and delete them, progressing by clock time.

import { randomUUID } from 'node:crypto'
import type { Clock } from '../../shared/clock.js'
import { WORK_REQUEST_FINISH_MS, WORK_REQUEST_START_MS } from '../constants.js'

export interface Snapshot {
  id: string
  name: string
  description: string
  type: 'USER'
  status: 'COMPLETED'
  timeCreated: string
  timeUpdated: string
  bundleVersion: string
}

export type WorkRequestStatus = 'ACCEPTED' | 'IN_PROGRESS' | 'SUCCEEDED'
type Operation = 'CREATE_SNAPSHOT' | 'DELETE_SNAPSHOT'

interface WorkRequest {
  id: string
  operationType: Operation
  acceptedAtMs: number
  snapshot: Snapshot
  applied: boolean
}

export interface WorkRequestView {
  id: string
  operationType: Operation
  status: WorkRequestStatus
  percentComplete: number
  timeAccepted: string
  timeStarted?: string
  timeFinished?: string
  resources: Array<{
    resourceType: 'SNAPSHOT'
    resourceId: string
    resourceName: string
    actionResult: 'IN_PROGRESS' | 'CREATED' | 'DELETED'
  }>
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

export class SnapshotStore {
  readonly #clock: Clock
  readonly #snapshots = new Map<string, Snapshot>()
  readonly #workRequests = new Map<string, WorkRequest>()

  constructor(clock: Clock) {
    this.#clock = clock
  }

  list(): Snapshot[] {
    this.#settle()
    return [...this.#snapshots.values()]
  }

  get(id: string): Snapshot | undefined {
    this.#settle()
    return this.#snapshots.get(id)
  }

  /** Accept a create; the snapshot appears once the work request succeeds. */
  create(name: string, description = ''): string {
    const now = this.#clock.now()
    const snapshot: Snapshot = {
      id: randomUUID().toUpperCase(),
      name,
      description,
      type: 'USER',
      status: 'COMPLETED',
      timeCreated: iso(now),
      timeUpdated: iso(now),
      bundleVersion: '7.0.0',
    }
    return this.#accept('CREATE_SNAPSHOT', snapshot, now)
  }

  /** Accept a delete; undefined when no such snapshot exists. */
  delete(id: string): string | undefined {
    const snapshot = this.get(id)
    if (!snapshot) return undefined
    return this.#accept('DELETE_SNAPSHOT', snapshot, this.#clock.now())
  }

  workRequest(id: string): WorkRequestView | undefined {
    this.#settle()
    const wr = this.#workRequests.get(id)
    return wr ? this.#view(wr, this.#clock.now()) : undefined
  }

  #accept(operationType: Operation, snapshot: Snapshot, now: number): string {
    const id = 'wr-' + randomUUID()
    this.#workRequests.set(id, { id, operationType, acceptedAtMs: now, snapshot, applied: false })
    return id
  }

  #status(wr: WorkRequest, now: number): WorkRequestStatus {
    const elapsed = now - wr.acceptedAtMs
    if (elapsed >= WORK_REQUEST_FINISH_MS) return 'SUCCEEDED'
    if (elapsed >= WORK_REQUEST_START_MS) return 'IN_PROGRESS'
    return 'ACCEPTED'
  }

  /** Apply the effect of every work request that has succeeded by now. */
  #settle(): void {
    const now = this.#clock.now()
    for (const wr of this.#workRequests.values()) {
      if (wr.applied || this.#status(wr, now) !== 'SUCCEEDED') continue
      wr.applied = true
      if (wr.operationType === 'CREATE_SNAPSHOT') {
        const done = iso(wr.acceptedAtMs + WORK_REQUEST_FINISH_MS)
        this.#snapshots.set(wr.snapshot.id, { ...wr.snapshot, timeUpdated: done })
      } else {
        this.#snapshots.delete(wr.snapshot.id)
      }
    }
  }

  #view(wr: WorkRequest, now: number): WorkRequestView {
    const status = this.#status(wr, now)
    const span = WORK_REQUEST_FINISH_MS - WORK_REQUEST_START_MS
    const elapsed = now - wr.acceptedAtMs - WORK_REQUEST_START_MS
    const percentComplete =
      status === 'SUCCEEDED' ? 100 : status === 'ACCEPTED' ? 0 : Math.floor((elapsed / span) * 100)
    const done = wr.operationType === 'CREATE_SNAPSHOT' ? 'CREATED' : 'DELETED'
    const view: WorkRequestView = {
      id: wr.id,
      operationType: wr.operationType,
      status,
      percentComplete,
      timeAccepted: iso(wr.acceptedAtMs),
      resources: [
        {
          resourceType: 'SNAPSHOT',
          resourceId: wr.snapshot.id,
          resourceName: wr.snapshot.name,
          actionResult: status === 'SUCCEEDED' ? done : 'IN_PROGRESS',
        },
      ],
    }
    if (status !== 'ACCEPTED') view.timeStarted = iso(wr.acceptedAtMs + WORK_REQUEST_START_MS)
    if (status === 'SUCCEEDED') view.timeFinished = iso(wr.acceptedAtMs + WORK_REQUEST_FINISH_MS)
    return view
  }
}
