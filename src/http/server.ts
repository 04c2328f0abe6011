/**
 * The HTTP front doors: one node:http listener serving Envoy's HTTP ext_authz (`http_service`) under
 * a path prefix, and a forward-auth endpoint for nginx `auth_request`, Traefik `ForwardAuth` and
 * Caddy `forward_auth`. Both ask the same decider as the gRPC service; no rule lives here.
 *
 * Every request gets an answer and the handler never throws: an exception becomes the 500 error
 * answer. Auth requests carry no body: small bodies are discarded unread, a body over
 * {@link MAX_BODY_BYTES} is refused and the connection closed. Header count and size are bounded.
 * Nothing from a request (and never a token) is logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { CLIENT_NOT_ALLOWED_DECISION, denyDecision, INTERNAL_ERROR_DECISION } from '../core/answer.js';
import { WELL_KNOWN_SUFFIX } from '../engine/resource-metadata.js';
import type { Decide } from '../engine/decide.js';
import { answerObserved } from '../engine/answer-observed.js';
import type { Decision, DecisionObserver, DenyDecision, RequestView } from '../core/types.js';
import { silentLogger, type Logger } from '../core/log.js';
import { parseListenAddress } from '../net/address.js';
import { compileClientCheck, type TlsConfig } from '../net/tls.js';
import type { SetTimer } from '../core/timers.js';
import type { BoundReason, HttpListenerBounds } from '../net/listener-bounds.js';
import { endpointOf, envoyView, forwardAuthView, PROBLEMS, type ViewResult } from './request.js';
import { DETAIL_HEADER, toHttpAnswer, type FrontDoorMode, type HttpAnswer } from './response.js';
import { compileTrust, type PeerTrust } from '../net/trust.js';
import { listenHttp } from './listener.js';

/** Defaults shared with the `http` config block (src/config/schema.ts). */
export const HTTP_DEFAULTS = {
  address: '127.0.0.1:9002',
  envoyPathPrefix: '/envoy',
  forwardAuthPath: '/auth',
  trustedProxies: ['127.0.0.0/8', '::1/128'],
} as const;

/** Largest request body accepted (and discarded); authorization requests should have none. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface HttpFrontDoorOptions {
  /** `host:port` or `[v6]:port`; port 0 picks a free port. */
  readonly address: string;
  /** Returns the decider of the current config; read once per request (hot reload swaps it). */
  readonly decider: () => Decide;
  /** Envoy `http_service.path_prefix`; the original path follows it. */
  readonly envoyPathPrefix?: string;
  /** The forward-auth endpoint (exact path). */
  readonly forwardAuthPath?: string;
  /** CIDRs (or single addresses) whose forwarded headers are honoured. */
  readonly trustedProxies?: readonly string[];
  /** Realm for the challenge of the adapter's own refusals (pass `config.realm`). */
  readonly realm?: string | (() => string);
  readonly observe?: DecisionObserver;
  readonly logger?: Logger;
  /** Serve HTTPS (optionally mutual TLS) with certificates re-read from files. */
  readonly tls?: TlsConfig;
  /** The timer the TLS files are re-read on; unref'd real timers by default. */
  readonly setTimer?: SetTimer;
  /** Connection cap and timeouts (`limits.http`); `HTTP_BOUNDS` by default. */
  readonly bounds?: HttpListenerBounds;
  /** Counts a connection refused or closed at a bound (metrics). */
  readonly refused?: (reason: BoundReason) => void;
}

export interface HttpFrontDoor {
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish for up to graceMs, then closes every connection. */
  close(graceMs?: number): Promise<void>;
}

/** Maps the `http` config block (snake_case) onto options. */
export function frontDoorOptionsFromConfig(
  http: { address: string; envoy_path_prefix: string; forward_auth_path: string; trusted_proxies: readonly string[] },
  rest: Pick<
    HttpFrontDoorOptions,
    'decider' | 'realm' | 'observe' | 'logger' | 'tls' | 'setTimer' | 'bounds' | 'refused'
  >,
): HttpFrontDoorOptions {
  return {
    address: http.address,
    envoyPathPrefix: http.envoy_path_prefix,
    forwardAuthPath: http.forward_auth_path,
    trustedProxies: http.trusted_proxies,
    ...rest,
  };
}

/** The denial the adapter gives for a request it cannot hand to the engine. */
export function refusalDecision(realm: string): DenyDecision {
  return denyDecision('ERR_REQUEST_MALFORMED', realm);
}

interface Handled {
  readonly answer: HttpAnswer;
  readonly detail?: string;
  readonly close?: boolean;
}

/** Answers one request; never rejects. Exported for in-process contract tests. */
export async function answerHttp(
  req: {
    method: string;
    url: string;
    rawHeaders: readonly string[];
    peer: string | undefined;
    peerCertificate?: Uint8Array | undefined;
  },
  settings: {
    decide: Decide;
    envoyPathPrefix: string;
    forwardAuthPath: string;
    trust: PeerTrust;
    realm: string;
    observe?: DecisionObserver;
  },
): Promise<Handled> {
  const started = process.hrtime.bigint();
  let view: RequestView | undefined;
  let ask: Decide | Decision;
  let mode: FrontDoorMode = 'forward-auth';
  let detail: string | undefined;
  try {
    const endpoint = endpointOf(req.url, settings.envoyPathPrefix, settings.forwardAuthPath);
    let result: ViewResult;
    if (endpoint.kind === 'envoy') {
      mode = 'envoy';
      result = envoyView(req, endpoint.originalPath);
    } else if (endpoint.kind === 'forward-auth') {
      result = forwardAuthView(req, settings.trust.trusted(req.peer));
    } else {
      result = { ok: false, problem: PROBLEMS.unknownEndpoint };
      // A proxy may route the RFC 9728 metadata path straight here; only that document is answered.
      if (req.url.startsWith(WELL_KNOWN_SUFFIX)) {
        const direct = await settings.decide({ method: req.method, host: '', path: req.url, headers: new Map() });
        if (direct.outcome !== 'allow' && direct.document !== undefined) {
          const answer = await answerObserved(
            undefined,
            direct,
            answerDirect,
            FAILED.direct,
            settings.observe,
            started,
          );
          return { answer };
        }
      }
    }
    if (result.ok) {
      view = result.view;
      ask = settings.decide;
    } else {
      detail = result.problem;
      ask = refusalDecision(settings.realm);
    }
  } catch {
    ask = INTERNAL_ERROR_DECISION;
  }
  const answer = await answerObserved(view, ask, RESPOND[mode], FAILED[mode], settings.observe, started);
  return detail === undefined ? { answer } : { answer, detail };
}

const answerDirect = (decision: Decision): HttpAnswer => toHttpAnswer(decision, 'direct');
const RESPOND: Readonly<Record<FrontDoorMode, (decision: Decision) => HttpAnswer>> = {
  envoy: (decision) => toHttpAnswer(decision, 'envoy'),
  'forward-auth': (decision) => toHttpAnswer(decision, 'forward-auth'),
};
/** The error answers, made once (what a failure while deciding or answering turns into). */
const FAILED: Readonly<Record<FrontDoorMode | 'direct', HttpAnswer>> = {
  envoy: toHttpAnswer(INTERNAL_ERROR_DECISION, 'envoy'),
  'forward-auth': toHttpAnswer(INTERNAL_ERROR_DECISION, 'forward-auth'),
  direct: toHttpAnswer(INTERNAL_ERROR_DECISION, 'direct'),
};

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Node writes header values as Latin-1 and refuses characters above U+00FF. Identity values are UTF-8
 * text (a name with "é" or "李"): hand Node their UTF-8 bytes one per character, so the proxy and the
 * upstream receive the same bytes as on the gRPC path.
 */
function asWireBytes(value: string): string {
  return NON_ASCII.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

function send(res: ServerResponse, handled: Handled, head: boolean): void {
  if (res.headersSent || res.destroyed) return;
  const { answer } = handled;
  for (const [name, value] of answer.headers) res.setHeader(name, asWireBytes(value));
  if (handled.detail !== undefined) res.setHeader(DETAIL_HEADER, handled.detail);
  if (handled.close) res.setHeader('connection', 'close');
  res.setHeader('content-length', Buffer.byteLength(answer.body));
  res.writeHead(answer.status);
  res.end(head ? undefined : answer.body);
}

export async function startHttpFrontDoor(options: HttpFrontDoorOptions): Promise<HttpFrontDoor> {
  const { host, port } = parseListenAddress(options.address);
  const envoyPathPrefix = options.envoyPathPrefix ?? HTTP_DEFAULTS.envoyPathPrefix;
  const forwardAuthPath = options.forwardAuthPath ?? HTTP_DEFAULTS.forwardAuthPath;
  const trust = rememberedTrust(compileTrust(options.trustedProxies ?? HTTP_DEFAULTS.trustedProxies));
  const realmOf =
    typeof options.realm === 'function' ? options.realm : () => (options.realm as string | undefined) ?? 'claimgate';
  const log = options.logger ?? silentLogger;

  const clientAllowed = compileClientCheck(options.tls?.allowed_clients);
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (clientAllowed !== undefined && !clientAllowed((req.socket as TLSSocket).getPeerCertificate())) {
      void Promise.resolve(
        answerObserved(
          undefined,
          CLIENT_NOT_ALLOWED_DECISION,
          RESPOND['forward-auth'],
          FAILED['forward-auth'],
          options.observe,
          process.hrtime.bigint(),
        ),
      )
        .then((answer) => send(res, { answer, close: true }, req.method === 'HEAD'))
        .catch(() => req.socket.destroy());
      return;
    }
    let bodyBytes = 0;
    let refusedBody = false;
    const declared = Number(req.headers['content-length'] ?? 0);
    const refuseBody = () => {
      if (refusedBody) return;
      refusedBody = true;
      if (res.headersSent) {
        req.socket.destroySoon();
        return;
      }
      const realm = safeRealm(realmOf);
      send(
        res,
        { answer: toHttpAnswer(refusalDecision(realm), 'forward-auth'), detail: PROBLEMS.bodyTooLarge, close: true },
        req.method === 'HEAD',
      );
      // Stop reading: whatever else the peer sends is dropped with the connection.
      res.once('finish', () => req.socket.destroySoon());
    };
    // Discard any body, counting it; past the cap the request is refused and the connection closed.
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
      if (bodyBytes > MAX_BODY_BYTES) refuseBody();
    });
    req.on('error', () => req.socket.destroy());
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
      refuseBody();
      return;
    }

    void (async () => {
      let handled: Handled;
      try {
        handled = await answerHttp(
          {
            method: req.method ?? '',
            url: req.url ?? '',
            rawHeaders: req.rawHeaders,
            peer: req.socket.remoteAddress,
            peerCertificate: connectionCertificate(req),
          },
          {
            decide: options.decider(),
            envoyPathPrefix,
            forwardAuthPath,
            trust,
            realm: safeRealm(realmOf),
            observe: options.observe,
          },
        );
      } catch {
        handled = { answer: toHttpAnswer(INTERNAL_ERROR_DECISION, 'forward-auth') };
      }
      if (handled.detail !== undefined)
        log.warn({ detail: handled.detail }, 'http front door refused an authorization request');
      if (refusedBody) return;
      try {
        send(res, handled, req.method === 'HEAD');
      } catch {
        // A header value Node refuses (should not happen: values are checked upstream) → 500.
        try {
          if (!res.headersSent) {
            for (const name of res.getHeaderNames()) res.removeHeader(name);
            send(res, { answer: toHttpAnswer(INTERNAL_ERROR_DECISION, 'forward-auth') }, req.method === 'HEAD');
          } else {
            res.destroy();
          }
        } catch {
          res.destroy();
        }
      }
    })();
  };

  const listener = await listenHttp(handle, {
    address: options.address,
    host,
    port,
    tls: options.tls,
    setTimer: options.setTimer,
    bounds: options.bounds,
    refused: options.refused,
    log,
  });
  log.info(
    { address: options.address, port: listener.port, envoyPathPrefix, forwardAuthPath },
    'claimgate HTTP front door listening',
  );
  return listener;
}

/** The DER client certificate of a mutual-TLS connection, if the client presented one. */
function connectionCertificate(req: IncomingMessage): Uint8Array | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const raw = socket.getPeerCertificate().raw as Buffer | undefined;
  return raw === undefined || raw.length === 0 ? undefined : raw;
}

function safeRealm(realmOf: () => string): string {
  try {
    return realmOf();
  } catch {
    return 'claimgate';
  }
}

/**
 * The trust answer per peer address, remembered: a door sees the same few proxies again and again, and
 * node's BlockList check builds a SocketAddress per call (~10 % of a forward-auth request's own CPU).
 * Bounded (a listener open to many peers sees many addresses); cleared when full.
 */
export function rememberedTrust(trust: PeerTrust, maxPeers = 1024): PeerTrust {
  const answers = new Map<string, boolean>();
  return {
    trusted(peer) {
      if (peer === undefined) return false;
      let answer = answers.get(peer);
      if (answer === undefined) {
        if (answers.size >= maxPeers) answers.clear();
        answer = trust.trusted(peer);
        answers.set(peer, answer);
      }
      return answer;
    },
  };
}
