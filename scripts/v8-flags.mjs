// The V8 flags the proxy runs with, the same in the image's entrypoint, the single-file executable and the bench.
// Valid on every supported line (22, 24, 26); test/runtime.test.ts runs them on the Node it runs on.
export const V8_FLAGS = [
  // a 2 MB young-generation semi-space: scavenges stay small and the heap stays near what is live
  '--max-semi-space-size=2',
  // undici's HTTP parser (llhttp) is WebAssembly; once it is hot V8 recompiles it with TurboFan, a transient that
  // raises the peak RSS under load (bench/footprint.mjs on Node 26, noisy: peak before the transfers 105-131 MiB
  // in 5 of 6 runs with this flag, 124-186 MiB in 3 without); the parser then stays in baseline (Liftoff) code
  '--no-wasm-tier-up',
  // the gc function, which the proxy calls for a minor collection while large bodies stream
  // (src/proxy/transfer-gc.ts: the buffers they leave behind are freed as they go, not tens of MB later)
  '--expose-gc',
]
