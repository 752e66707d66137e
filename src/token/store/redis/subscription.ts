// Announcements: one subscriber connection delivers each credential's write announcements; resubscribed after reconnects.
import type { RedisLink } from './link.js'
import type { StoreMetrics } from './metrics.js'

/** Published with every successful write; carries no secret. */
export interface Announcement {
  version: number
  /** The replica id that wrote it. */
  writer: string
  kind: 'write' | 'seed'
}

export function parseAnnouncement(message: string): Announcement | undefined {
  try {
    const m = JSON.parse(message) as { v?: unknown; w?: unknown; k?: unknown }
    if (!Number.isSafeInteger(m.v) || typeof m.w !== 'string' || (m.k !== 'write' && m.k !== 'seed')) return undefined
    return { version: m.v as number, writer: m.w, kind: m.k }
  } catch {
    return undefined
  }
}

/**
 * Subscribes `listener` to a channel. node-redis re-sends SUBSCRIBE after a reconnect by itself; what was
 * published while the connection was down is lost, which is why the store also tells its users to re-read
 * (`onResync`) whenever a connection comes back.
 */
export async function subscribeAnnouncements(
  link: RedisLink,
  channel: string,
  listener: (a: Announcement) => void,
  metrics: StoreMetrics,
): Promise<() => Promise<void>> {
  const raw = (message: string): void => {
    const a = parseAnnouncement(message)
    if (!a) {
      metrics.announcementsMalformed++
      return
    }
    metrics.announcementsReceived++
    listener(a)
  }
  await link.subscribe(channel, raw)
  return () => link.unsubscribe(channel, raw)
}
