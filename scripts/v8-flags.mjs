// The V8 flags the proxy runs with, the same in the image's entrypoint, the single-file executable and the bench.
/** A 2 MB young-generation semi-space: scavenges stay small and the heap stays near what is live. */
export const V8_FLAGS = ['--max-semi-space-size=2']
