// The request/response mechanism every channel of the extension uses (host ⇄ webview in protocol.ts, engine ⇄
// inference worker in src/model/worker-protocol.ts): each request carries an id and is answered by exactly one
// response with that id, either `ok: true` + result or `ok: false` + error; the caller may cancel a request, which
// is then still answered (with a 'cancelled' error). One side may also push events (no id, no answer).
// A channel is a method map (method → params/result) plus an event map. Pure TypeScript: no DOM, no vscode, no node.
import { errorMessage } from '../core/errors';

/** A channel's methods: name → params and result. */
export type MethodMap<M> = { [K in keyof M]: { params: unknown; result: unknown } };

export type RequestEnvelope<M extends MethodMap<M>> =
  { [K in keyof M & string]: { kind: 'request'; id: number; method: K; params: M[K]['params'] } }[keyof M & string];
/** The caller abandons a request (the user moved on); the answering side still answers it, with an error. */
export interface CancelMessage { kind: 'cancel'; id: number; }

export type ErrorCode = 'cancelled' | 'no-model' | 'bad-request' | 'failed';
export interface ErrorPayload {
  message: string;
  code?: ErrorCode;
  /** The answering side's `Error.name` when it is not plain 'Error' (AbortError, ModelCardError…). */
  name?: string;
}
export type ResponseMessage =
  | { kind: 'response'; id: number; ok: true; result: unknown }
  | { kind: 'response'; id: number; ok: false; error: ErrorPayload };
export type EventEnvelope<E> = { [K in keyof E & string]: { kind: 'event'; event: K; data: E[K] } }[keyof E & string];

export type Handlers<M extends MethodMap<M>> = { [K in keyof M]: (params: M[K]['params'], signal: AbortSignal) => Promise<M[K]['result']> };

/** Thrown by handlers to answer with a specific error code. */
export class RequestError extends Error {
  constructor(message: string, readonly code: ErrorPayload['code'] = 'failed') { super(message); }
}

/** Validates the envelope of a received request or cancel (the params' content is checked by each handler). */
export function parseRequest<M extends MethodMap<M>>(
  raw: unknown, methods: ReadonlySet<string>,
): RequestEnvelope<M> | CancelMessage | { invalid: string } {
  if (typeof raw !== 'object' || raw === null) return { invalid: 'message is not an object' };
  const m = raw as Record<string, unknown>;
  if (typeof m.id !== 'number' || !Number.isInteger(m.id)) return { invalid: 'message has no integer id' };
  if (m.kind === 'cancel') return { kind: 'cancel', id: m.id };
  if (m.kind !== 'request') return { invalid: `unknown message kind ${JSON.stringify(m.kind)}` };
  if (typeof m.method !== 'string' || !methods.has(m.method)) return { invalid: `unknown method ${JSON.stringify(m.method)}` };
  if (typeof m.params !== 'object' || m.params === null) return { invalid: `${m.method}: params must be an object` };
  return m as unknown as RequestEnvelope<M>;
}

function errorPayload(err: unknown, cancelled: boolean): ErrorPayload {
  if (cancelled) return { message: 'cancelled', code: 'cancelled', name: 'AbortError' };
  const payload: ErrorPayload = { message: errorMessage(err), code: err instanceof RequestError ? err.code : 'failed' };
  if (err instanceof Error && err.name !== 'Error') payload.name = err.name;
  return payload;
}

/**
 * The answering side: dispatches requests to handlers and answers every one of them exactly once, with the
 * result, or with an error when the handler throws, the params are malformed, or the caller cancelled it.
 */
export class RpcServer<M extends MethodMap<M>, E = Record<never, never>> {
  private readonly inFlight = new Map<number, AbortController>();
  private readonly methods: ReadonlySet<string>;
  constructor(
    methods: readonly (keyof M & string)[],
    private readonly handlers: Handlers<M>,
    private readonly post: (m: ResponseMessage | EventEnvelope<E>) => void,
  ) {
    this.methods = new Set<string>(methods);
  }

  receive(raw: unknown): void {
    const msg = parseRequest<M>(raw, this.methods);
    if ('invalid' in msg) {
      const id = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : -1;
      this.post({ kind: 'response', id, ok: false, error: { message: msg.invalid, code: 'bad-request' } });
      return;
    }
    if (msg.kind === 'cancel') { this.inFlight.get(msg.id)?.abort(); return; }
    const controller = new AbortController();
    this.inFlight.set(msg.id, controller);
    const handler = this.handlers[msg.method as keyof M] as (p: unknown, s: AbortSignal) => Promise<unknown>;
    let answer: Promise<unknown>;
    try { answer = Promise.resolve(handler(msg.params, controller.signal)); } catch (e) { answer = Promise.reject(e); }
    answer.then(
      (result) => {
        if (controller.signal.aborted) this.post({ kind: 'response', id: msg.id, ok: false, error: errorPayload(undefined, true) });
        else this.post({ kind: 'response', id: msg.id, ok: true, result });
      },
      (err: unknown) => this.post({ kind: 'response', id: msg.id, ok: false, error: errorPayload(err, controller.signal.aborted) }),
    ).finally(() => this.inFlight.delete(msg.id));
  }

  emit<K extends keyof E & string>(event: K, data: E[K]): void {
    this.post({ kind: 'event', event, data } as EventEnvelope<E>);
  }

  /** Abort every handler still running (the other side went away). */
  dispose(): void {
    for (const c of this.inFlight.values()) c.abort();
    this.inFlight.clear();
  }
}

type Listeners<E> = { [K in keyof E]?: Array<(data: E[K]) => void> };

/**
 * The asking side: typed requests that resolve with the result or reject with the error `toError` makes of the
 * answer's ErrorPayload. A signal that aborts sends a cancel; the request still settles with the answer.
 */
export class RpcClient<M extends MethodMap<M>, E = Record<never, never>> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners: Listeners<E> = {};
  constructor(
    private readonly post: (m: RequestEnvelope<M> | CancelMessage) => void,
    private readonly toError: (e: ErrorPayload) => Error,
  ) {}

  request<K extends keyof M & string>(method: K, params: M[K]['params'], signal?: AbortSignal): Promise<M[K]['result']> {
    const id = this.nextId++;
    return new Promise<M[K]['result']>((resolve, reject) => {
      if (signal?.aborted) { reject(this.toError({ message: 'cancelled', code: 'cancelled', name: 'AbortError' })); return; }
      const onAbort = (): void => this.post({ kind: 'cancel', id });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (v) => { signal?.removeEventListener('abort', onAbort); resolve(v as M[K]['result']); },
        reject: (e) => { signal?.removeEventListener('abort', onAbort); reject(e); },
      });
      this.post({ kind: 'request', id, method, params } as RequestEnvelope<M>);
    });
  }

  on<K extends keyof E>(event: K, listener: (data: E[K]) => void): void {
    ((this.listeners[event] ??= []) as Array<(data: E[K]) => void>).push(listener);
  }

  /** Feed every message from the answering side here. Unknown messages are ignored (a newer peer). */
  receive(raw: unknown): void {
    if (typeof raw !== 'object' || raw === null) return;
    const msg = raw as ResponseMessage | EventEnvelope<E>;
    if (msg.kind === 'response') {
      const waiter = this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id);
      if (msg.ok) waiter.resolve(msg.result);
      else waiter.reject(this.toError(msg.error));
    } else if (msg.kind === 'event') {
      for (const l of (this.listeners[msg.event as keyof E] ?? []) as Array<(d: unknown) => void>) l(msg.data);
    }
  }

  /** Reject every request still waiting (the channel closed) with `err`. */
  rejectAll(err: () => Error): void {
    for (const p of this.pending.values()) p.reject(err());
    this.pending.clear();
  }

  get pendingCount(): number { return this.pending.size; }
}
