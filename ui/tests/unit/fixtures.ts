import type { Status, Verdict } from '../../src/api'

export function verdict(over: Partial<Verdict> = {}): Verdict {
  return {
    day: '2026-07-13',
    status: 'normal',
    error: 0.012,
    threshold: 0.034,
    baseline_days: 14,
    baseline: [],
    day_kind: 'workday',
    uncollected_hours: 0,
    model: 'autoencoder-120',
    apps: ['Slack', 'Transmission'],
    explanation: [],
    summary: 'Mon 13 Jul: normal',
    marked_normal: false,
    ...over,
  }
}

export const ANOMALOUS = verdict({
  status: 'anomalous',
  explanation: [
    { app: 'Transmission', from_hour: 3, to_hour: 4, bytes: 30_000_000_000, typical_bytes: 595_000 },
    { app: 'Slack', from_hour: 22, to_hour: 24, bytes: 20_000_000, typical_bytes: 6_000_000 },
  ],
  summary: 'Mon 13 Jul: Transmission 03:00–04:00, 30 GB (typically 595 kB)',
})

export function status(over: Partial<Status> = {}): Status {
  return {
    state: 'watching',
    reason: null,
    last_tick: '2026-07-14T13:31:00Z',
    source: 'nettop',
    host: 'mbp',
    grafana_url: null,
    ...over,
  }
}
