// Markdown report: machine, versions, medians per configuration, targets (pass/fail), refresh under load, method.
import { readFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'

/** The bare node:http + undici proxy row: what Node itself costs here (bench/reference-proxy.mjs). */
export const REFERENCE = 'node:http + undici (reference)'

export function machineFacts() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown'
  let os = 'unknown'
  try {
    os = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os
  } catch {
    // no os-release
  }
  return { cpu: model, cores: cpus().length, memoryGiB: totalmem() / 2 ** 30, kernel: release(), os }
}

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const m = v.length >> 1
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}

/** Median of every figure over the rounds of one configuration; only quiet rounds count when there are any. */
export function aggregate(all, noisyCores = Infinity) {
  const quiet = all.filter((r) => r.foreignCores <= noisyCores)
  const rounds = quiet.length > 0 ? quiet : all
  const pick = (f) => median(rounds.map(f))
  return {
    used: `${rounds.length}/${all.length}`,
    rps: pick((r) => r.c50.rps),
    c1p50: pick((r) => r.c1.p50Us),
    c1p99: pick((r) => r.c1.p99Us),
    c1sp50: pick((r) => r.c1split.p50Us),
    c1sp99: pick((r) => r.c1split.p99Us),
    c50p50: pick((r) => r.c50.p50Us),
    c50p99: pick((r) => r.c50.p99Us),
    down: pick((r) => r.downloadMiBs),
    up: pick((r) => r.uploadMiBs),
    firstDown: pick((r) => r.firstDownloadMiBs),
    firstUp: pick((r) => r.firstUploadMiBs),
    cpu: pick((r) => r.cpuUsPerReq),
    idle: pick((r) => r.idleRssMiB),
    idleAnon: pick((r) => r.idleAnonMiB),
    peak: pick((r) => r.peakRssMiB),
    peakC50: pick((r) => r.hwmAfterC50MiB),
    errors: all.reduce((a, r) => a + r.errors, 0),
  }
}

const dash = '—'
const num = (x, d = 0) =>
  Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : dash
export function lat(us) {
  if (!Number.isFinite(us)) return dash
  return Math.abs(us) < 1000 ? `${Math.round(us)} µs` : `${(us / 1000).toFixed(2)} ms`
}
const added = (us) => (Number.isFinite(us) ? (us >= 0 ? '+' : '−') + lat(Math.abs(us)) : dash)
const verdict = (ok) => (ok === undefined ? dash : ok ? '**pass**' : '**FAIL**')

/** The 1 GiB peak may exceed the 100 MiB one by this much (GC timing), and still count as flat. */
const FLAT_RSS_SLACK_MIB = 8

/** The cold-start target: spawn to the first proxied 200 with the refresh token in the state file. */
const COLD_START_TARGET_MS = 300

export function targets(agg, refresh, bodySize, cold) {
  const d = agg.direct
  const main = agg['oac-token-proxy']
  const tls = agg['oac-token-proxy (https upstream)']
  const k = agg['kubectl proxy']
  const n = agg.nginx
  const t = []
  const add = (what, figure, ok) => t.push({ what, figure, ok })
  add('throughput ≥ 0.5× nginx', `${num(main.rps / n.rps, 2)}× nginx`, main.rps >= 0.5 * n.rps)
  add(
    'throughput above kubectl proxy (https upstream, like for like)',
    `${num(tls.rps)} vs ${num(k.rps)} req/s (${num(tls.rps / k.rps, 2)}×)`,
    tls.rps > k.rps,
  )
  add('unloaded added p50 (c=1) ≤ 150 µs over direct', added(main.c1p50 - d.c1p50), main.c1p50 - d.c1p50 <= 150)
  add('download ≥ 0.5× direct', `${num(main.down / d.down, 2)}× direct`, main.down >= 0.5 * d.down)
  add('upload ≥ 0.5× direct', `${num(main.up / d.up, 2)}× direct`, main.up >= 0.5 * d.up)
  if (bodySize) {
    const growth = bodySize.hugePeakMiB - bodySize.smallPeakMiB
    add(
      `RSS flat whatever the body size (peak after 1 GiB vs after 100 MiB, within ${FLAT_RSS_SLACK_MIB} MB)`,
      `${num(bodySize.smallPeakMiB, 1)} → ${num(bodySize.hugePeakMiB, 1)} MB (${growth >= 0 ? '+' : '−'}${num(Math.abs(growth), 1)} MB)`,
      growth <= FLAT_RSS_SLACK_MIB,
    )
  }
  const peak = Math.max(main.peak, tls.peak)
  add('peak RSS under load ≤ 100 MB (both oac-token-proxy rows)', `${num(peak, 1)} MB`, peak <= 100)
  const idle = Math.max(main.idle, tls.idle)
  add('idle RSS ≤ 60 MB (both oac-token-proxy rows)', `${num(idle, 1)} MB`, idle <= 60)
  if (cold) {
    add(
      `cold start ≤ ${COLD_START_TARGET_MS} ms (spawn to first proxied 200, refresh token in the state file)`,
      `${num(cold.proxy.ms)} ms (${num(cold.proxy.cpuMs)} ms CPU)`,
      cold.proxy.ms <= COLD_START_TARGET_MS,
    )
  }
  if (refresh) {
    add('p99 around a refresh within 1.1× steady state', `${num(refresh.p99Ratio, 2)}×`, refresh.p99Ratio <= 1.1)
    add('IdP token calls per refresh cycle = 1', `${num(refresh.callsPerCycle, 2)}`, refresh.callsPerCycle === 1)
  }
  return t
}

function mainTables(names, agg) {
  const d = agg.direct
  const lines = [
    '| configuration | req/s (c=50) | × direct | p50 / p99 c=1 | added p50 / p99 c=1 | ' +
      'added p50 / p99 c=1, proxy on its own CPU | p50 / p99 c=50 | added p50 / p99 c=50 |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  const pair = (a, b) => `${lat(a)} / ${lat(b)}`
  const plus = (name, a, b) => (name === 'direct' ? dash : `${added(a)} / ${added(b)}`)
  for (const name of names) {
    const a = agg[name]
    lines.push(
      `| ${name} | ${num(a.rps)} | ${num(a.rps / d.rps, 2)} | ${pair(a.c1p50, a.c1p99)} | ` +
        `${plus(name, a.c1p50 - d.c1p50, a.c1p99 - d.c1p99)} | ${plus(name, a.c1sp50 - d.c1p50, a.c1sp99 - d.c1p99)} | ` +
        `${pair(a.c50p50, a.c50p99)} | ${plus(name, a.c50p50 - d.c50p50, a.c50p99 - d.c50p99)} |`,
    )
  }
  lines.push(
    '',
    '| configuration | download MB/s | upload MB/s | proxy CPU µs/req | idle RSS MB | peak RSS MB | peak RSS before the transfers MB | errors | rounds used |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  )
  for (const name of names) {
    const a = agg[name]
    lines.push(
      `| ${name} | ${num(a.down)} | ${num(a.up)} | ${num(a.cpu, 1)} | ${num(a.idle, 1)} | ${num(a.peak, 1)} | ` +
        `${num(a.peakC50, 1)} | ${a.errors} | ${a.used} |`,
    )
  }
  return lines
}

function refreshSection(r) {
  return [
    `2 s access tokens, 50 connections (undici Pool, closed loop) for ${r.durationS} s: ${num(r.rps)} req/s, ` +
      `${r.requests.toLocaleString('en-US')} requests, ${r.errors} errors, other load ${num(r.foreignCores, 2)} cores. ${r.refreshesInWindow} refreshes in the ` +
      `window; a request is "around a refresh" when it started within ±250 ms of an IdP token call.`,
    '',
    '| | requests | p50 | p99 | max |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| around a refresh | ${r.aroundCount.toLocaleString('en-US')} | ${lat(r.aroundP50Us)} | ${lat(r.aroundP99Us)} | ${lat(r.maxAroundUs)} |`,
    `| steady state | ${r.steadyCount.toLocaleString('en-US')} | ${lat(r.steadyP50Us)} | ${lat(r.steadyP99Us)} | ${lat(r.maxSteadyUs)} |`,
    '',
    `p99 ratio around/steady: **${num(r.p99Ratio, 2)}×**. IdP token calls per refresh cycle: ` +
      `**${r.callsInCycles} calls / ${r.cycles} cycles = ${num(r.callsPerCycle, 2)}**; stale refresh-token uses: ` +
      `${r.staleRefreshTokenUses}.`,
  ]
}

function profileSection(p) {
  const pct = (s) => `${(s * 100).toFixed(1)} %`
  const m = p.memory
  const mem = (x) =>
    `${num(x.rss, 1)} MB RSS (${num(x.anon, 1)} anonymous, ${num(x.file, 1)} file-backed: the node binary and libraries); V8 heap ${num(x.heapUsed, 1)} used of ${num(x.heapTotal, 1)}; external ${num(x.external, 1)}`
  return [
    `One extra run of \`oac-token-proxy\` under \`node --cpu-prof\` (${num(p.rpsProfiled)} req/s while profiled, ` +
      `${num(p.busyMs / 1000, 1)} s busy, ${num(p.idleMs / 1000, 1)} s idle). Shares are of the busy time.`,
    '',
    '| self time by package (native calls count for their JavaScript caller) | share |',
    '| --- | ---: |',
    ...p.packages.map((x) => `| ${x.name} | ${pct(x.share)} |`),
    '',
    '| top functions by self time | share |',
    '| --- | ---: |',
    ...p.functions.map((x) => `| \`${x.name.replace(/\|/g, '\\|')}\` | ${pct(x.share)} |`),
    '',
    `Memory of the profiled process (the profiler adds some of its own) idle: ${mem(m.idle)}.`,
    `Memory after the c=50 run: ${mem(m.loaded)}; peak RSS ${num(m.loaded.hwm, 1)} MB.`,
  ]
}

/** Idle memory from bare node to the running proxy, split into the process's own and the binary's shared pages. */
function layersSection(layers, agg) {
  const rows = [
    ...layers,
    { what: `${REFERENCE}, running`, rssMiB: agg[REFERENCE]?.idle, anonMiB: agg[REFERENCE]?.idleAnon },
    {
      what: 'oac-token-proxy, running (holding a token, listening)',
      rssMiB: agg['oac-token-proxy']?.idle,
      anonMiB: agg['oac-token-proxy']?.idleAnon,
    },
  ]
  return [
    '## Idle memory, layer by layer',
    '',
    "| what is loaded | RSS MB | anonymous MB (the process's own) | file-backed MB (mostly the node binary, shared by its processes) |",
    '| --- | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.what} | ${num(r.rssMiB, 1)} | ${num(r.anonMiB, 1)} | ${num(r.rssMiB !== undefined && r.anonMiB !== undefined ? r.rssMiB - r.anonMiB : undefined, 1)} |`,
    ),
    '',
    "Medians of 3 fresh processes on the bench's Node and flags (bench/idle-layers.mjs); the running rows are the " +
      "main table's idle RSS. The built-ins alone (no code of the proxy's) come close to an idle target of 60 MB.",
    '',
  ]
}

export function renderReport({
  names,
  rounds,
  agg,
  refresh,
  bodySize,
  cold,
  layers,
  profile,
  machine,
  versions,
  meta,
}) {
  const L = [
    '# oac-token-proxy benchmark',
    '',
    `Run ${meta.date} with \`${meta.command}\` in ${meta.durationS.toFixed(0)} s (${meta.rounds} interleaved ` +
      `round${meta.rounds > 1 ? 's' : ''}; figures are medians of the quiet rounds).`,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(1)} GiB memory, ` +
      `Linux ${machine.kernel}, ${machine.os}.`,
    `Versions: ${Object.entries(versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
    '## Results (1 KB JSON GET; 100 MiB transfers)',
    '',
    ...mainTables(names, agg),
    '',
    'MB = MiB (2^20 bytes). Figures are medians of the rounds without other load on the machine (all rounds when ' +
      'none was quiet; "rounds used"). "added" is the difference to `direct`. c=1 runs with wrk, the stand-in and the proxy ' +
      'on one CPU (the figure the targets use); "proxy on its own CPU" adds this VM\'s cross-CPU wake-ups. ' +
      'Proxy CPU and RSS are of the proxy process (the nginx worker for `nginx`). ' +
      `Transfers are the median of ${meta.transfers} of each after a first one, kept apart: the first transfer after ` +
      'a start (JIT warm-up included) ran at ' +
      names
        .filter((n) => n !== 'direct')
        .map((n) => `${n} ${num(agg[n].firstDown)} / ${num(agg[n].firstUp)}`)
        .join(', ') +
      ' MB/s (download / upload).',
    '',
    `\`${REFERENCE}\` is not a product: bench/reference-proxy.mjs, the smallest Node proxy doing the same ` +
      'forwarding (node:http server, undici Pool, static header, bodies piped, no checks, metrics or logs). Its row ' +
      'is what Node itself costs on this machine; the distance from it to `oac-token-proxy` is what Fastify, ' +
      "@fastify/http-proxy and the proxy's own work cost.",
    '',
    '## Targets',
    '',
    '| target | measured | |',
    '| --- | --- | --- |',
    ...targets(agg, refresh, bodySize, cold).map((t) => `| ${t.what} | ${t.figure} | ${verdict(t.ok)} |`),
    '',
  ]
  if (bodySize) {
    L.push(
      '## Memory against body size',
      '',
      `A freshly started oac-token-proxy: one ${num(bodySize.smallMiB)} MiB download and upload, then ` +
        `${num(bodySize.hugeMiB)} MiB of each (${num(bodySize.hugeDownMiBs)} / ${num(bodySize.hugeUpMiBs)} MB/s). ` +
        `Peak RSS (VmHWM) ${num(bodySize.smallPeakMiB, 1)} MB after the first pair, ${num(bodySize.hugePeakMiB, 1)} MB ` +
        `after the second; RSS at the end ${num(bodySize.hugeRssMiB, 1)} MB.`,
      '',
    )
  }
  if (layers) L.push(...layersSection(layers, agg))
  if (cold) {
    const row = (name, c) => `| ${name} | ${num(c.ms)} ms | ${num(c.cpuMs)} ms | ${num(c.rssMiB, 1)} MB |`
    L.push(
      '## Cold start',
      '',
      '| | spawn to first 200 | CPU time to it | RSS after it |',
      '| --- | ---: | ---: | ---: |',
      row('oac-token-proxy (refresh token in the state file: one IdP call before the 200)', cold.proxy),
      row(REFERENCE, cold.reference),
      ...(cold.sea ? [row('oac-token-proxy, single-file executable (`npm run sea`; the same start)', cold.sea)] : []),
      '',
      `Medians of ${cold.proxy.samples.length} starts; every start of oac-token-proxy: ` +
        cold.proxy.samples.map((s) => `${num(s.ms)} ms`).join(', ') +
        '. Wall time includes waiting for a CPU when other processes run; CPU time does not.',
      '',
    )
    if (cold.sea) {
      L.push(
        `The single-file executable (linux-x64, built in this run by scripts/build-sea.mjs) is ` +
          `${num(cold.sea.bytes / 2 ** 20, 1)} MB: the Node binary of the image's line, stripped of its debug ` +
          `symbols, with a ${num(cold.sea.bundleBytes / 2 ** 20, 1)} MB bundled script and its V8 code cache. ` +
          `It runs with the same V8 flags and no Node installed; its RSS after the first proxied 200 is in the table.`,
        '',
      )
    }
  }
  if (refresh) L.push('## Refresh under load', '', ...refreshSection(refresh), '')
  if (profile) L.push("## Where the proxy's time and memory go", '', ...profileSection(profile), '')
  L.push('## Method', '', ...meta.method.map((m) => `- ${m}`), '')
  L.push(
    '<details><summary>Every round</summary>',
    '',
    '| configuration | round | req/s | p50/p99 c=1 | p50/p99 c=1 own CPU | p50/p99 c=50 | down/up MB/s | CPU µs/req | idle/peak RSS MB | other load (cores) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  )
  for (const name of names) {
    rounds[name].forEach((r, i) => {
      L.push(
        `| ${name} | ${i + 1} | ${num(r.c50.rps)} | ${lat(r.c1.p50Us)} / ${lat(r.c1.p99Us)} | ` +
          `${lat(r.c1split.p50Us)} / ${lat(r.c1split.p99Us)} | ` +
          `${lat(r.c50.p50Us)} / ${lat(r.c50.p99Us)} | ${num(r.downloadMiBs)} / ${num(r.uploadMiBs)} | ` +
          `${num(r.cpuUsPerReq, 1)} | ${num(r.idleRssMiB, 1)} / ${num(r.peakRssMiB, 1)} | ${num(r.foreignCores, 2)} |`,
      )
    })
  }
  L.push('', '</details>', '')
  return L.join('\n')
}
