// What the benchmark and its server say to each other over the IPC channel, and the clock both
// read: process.hrtime is the system's monotonic clock, so two processes on one machine agree on it.

/** Milliseconds on the system's monotonic clock (the same in every process on this machine). */
export const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

/** `gc: false` skips the forced GC; `proc: false` skips reading /proc (tcpConnections is then null). */
export type ToServer = { type: 'stats'; requestId: number } & StatsOptions;
export interface StatsOptions {
  gc: boolean;
  proc: boolean;
}

export interface ReadyEvent {
  type: 'ready';
  url: string;
  onCancel: 'none' | 'error';
}

/** Sent once a handler has stopped and released what it held. */
export interface CleanupEvent {
  type: 'cleaned';
  tag: string;
  state: 'completed' | 'cancelled' | 'failed';
  /** monotonicMs() when the handler's cleanup had finished. */
  cleanedAt: number;
  /** monotonicMs() when the server read the notifications/cancelled for this call. */
  cancelReceivedAt?: number;
}

export interface FailedEvent {
  type: 'failed';
  tag: string;
  message: string;
}

export interface ServerStats {
  type: 'stats';
  requestId?: number;
  /** notifications/cancelled read so far, and monotonicMs() when the last one was read. */
  cancelsRead: number;
  lastCancelReadAt?: number;
  /** Requests' HTTP responses (SSE streams) still open, as the shared wiring records them. */
  openResponseStreams: number;
  /** The SDK transport's open request streams (private `_streamMapping`, standalone GET stream excluded). */
  sdkStreams: number;
  /** The SDK transport's request-id-to-stream entries (private `_requestToStreamMapping`). */
  sdkRequestMappings: number;
  /** Request handlers still running (each counts until its `finally` is done). */
  handlersRunning: number;
  /** Live setInterval timers: the SDK arms one keep-alive per open SSE stream. */
  keepAliveTimers: number;
  /** Established TCP connections on the server's port (from /proc; null where there is none, or when not read). */
  tcpConnections: number | null;
  /** CPU time this process had used (user + system) when the reading began, and when it ended. */
  cpuMs: number;
  cpuMsAtEnd: number;
  rssBytes: number;
  peakRssBytes: number;
  /** After a forced GC. */
  heapUsedBytes: number;
}

export type FromServer = ReadyEvent | CleanupEvent | FailedEvent | ServerStats;
