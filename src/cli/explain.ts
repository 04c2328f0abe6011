/**
 * `claimgate explain`: one request through the real decision engine, offline, with every step shown.
 * The request is built and decoded exactly as a gRPC Check is (buildCheckRequest → toRequestView), the
 * config is compiled as serve compiles it, and the decider is the one serve uses, called with a trace.
 * Only the key source of the issuer the token names is started (or a local JWKS file stands in for it).
 */
import type { Config, IssuerConfig } from '../config/schema.js';
import { compileConfig } from '../engine/compile.js';
import { createDecider, type TraceStep } from '../engine/decide.js';
import { reasonInfo, type ReasonCode } from '../core/reasons.js';
import type { Decision } from '../core/types.js';
import { toRequestView } from '../envoy/request.js';
import { createKeySource, type KeySource, type KeySourceDeps, type KeySourceState } from '../keys/key-source.js';
import { buildCheckRequest, type CheckInput } from './check-client.js';

export interface ExplainInput extends CheckInput {
  readonly config: Config;
  /** Verify with the keys of this JWKS file instead of fetching each issuer's. */
  readonly jwksFile?: string;
  readonly keyDeps?: KeySourceDeps;
  readonly nowMs?: () => number;
}

export interface ExplainKeys {
  readonly issuer: string;
  readonly state: KeySourceState;
  /** What the key source reported while loading (discovery mismatch, skipped keys, ...). */
  readonly notes: readonly string[];
}

export interface ExplainReport {
  readonly request: { readonly method: string; readonly host: string; readonly path: string };
  /** The `iss` the token claims (unverified, only used to pick which keys to load). */
  readonly tokenIssuer: string | undefined;
  readonly keys: ExplainKeys | undefined;
  readonly steps: readonly TraceStep[];
  readonly decision: {
    readonly outcome: Decision['outcome'];
    readonly status: number;
    readonly reason: ReasonCode;
    readonly reasonText: string;
    readonly route?: string;
    readonly issuer?: string;
    readonly requirement?: string;
    readonly challenge?: string;
    readonly headersToSet: readonly { readonly name: string; readonly value: string }[];
    readonly headersToRemove: readonly string[];
  };
}

/** The `iss` a compact JWS claims, read without verifying anything; undefined if it has none. */
function claimedIssuer(token: string | undefined): string | undefined {
  const payload = token?.trim().split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const iss = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: unknown }).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

const withJwksFile = (issuer: IssuerConfig, file: string): IssuerConfig => {
  const { discovery: _d, jwks_uri: _u, ...rest } = issuer;
  return { ...rest, jwks_file: file };
};

export async function explainRequest(input: ExplainInput): Promise<ExplainReport> {
  const tokenIssuer = claimedIssuer(input.token);
  const notes = new Map<string, string[]>();
  const sources: KeySource[] = [];
  const compiled = compileConfig(structuredClone(input.config), (issuer) => {
    const configured = input.jwksFile === undefined ? issuer : withJwksFile(issuer, input.jwksFile);
    const list: string[] = [];
    notes.set(issuer.name, list);
    const source = createKeySource(configured, {
      log: (_level, msg, fields) => list.push(fields === undefined ? msg : `${msg} ${JSON.stringify(fields)}`),
      ...input.keyDeps,
    });
    sources.push(source);
    return source;
  });
  const selected = tokenIssuer === undefined ? undefined : compiled.issuers.get(tokenIssuer);
  let keys: ExplainKeys | undefined;
  try {
    if (selected !== undefined) {
      // Only the named issuer's keys are loaded; the engine then waits for nothing.
      selected.keys.start();
      await selected.keys.whenSettled();
      keys = { issuer: selected.name, state: selected.keys.state(), notes: notes.get(selected.name) ?? [] };
    }
    const decide = createDecider(compiled, {
      ...(input.nowMs === undefined ? {} : { nowMs: input.nowMs }),
    });
    const view = toRequestView(buildCheckRequest(input));
    const steps: TraceStep[] = [];
    const decision = await decide(view, (step) => steps.push(step));
    return {
      request: { method: view.method, host: view.host, path: view.path },
      tokenIssuer,
      keys,
      steps,
      decision: summary(decision),
    };
  } finally {
    for (const source of sources) source.close();
  }
}

function summary(decision: Decision): ExplainReport['decision'] {
  const info = reasonInfo(decision.reason);
  const common = {
    outcome: decision.outcome,
    reason: decision.reason,
    reasonText: info.title,
    ...(decision.route === undefined ? {} : { route: decision.route }),
    ...(decision.issuer === undefined ? {} : { issuer: decision.issuer }),
  };
  if (decision.outcome === 'allow')
    return {
      ...common,
      status: 200,
      headersToSet: decision.headersToSet,
      headersToRemove: decision.headersToRemove,
    };
  return {
    ...common,
    status: decision.status,
    ...(decision.requirement === undefined ? {} : { requirement: decision.requirement }),
    ...(decision.challenge === undefined ? {} : { challenge: decision.challenge }),
    headersToSet: [],
    headersToRemove: decision.headersToRemove ?? [],
  };
}

const mark = (ok: boolean) => (ok ? 'ok  ' : 'FAIL');

/** The matched route's match block, so "why" is visible next to the name. */
function routeWhy(config: Config, name: string | undefined): string {
  const route = config.routes.find((r) => r.name === name);
  if (route === undefined) return `no route matched; unmatched: ${config.unmatched}`;
  const { hosts, methods, path } = route.match;
  const parts = [
    hosts === undefined ? 'any host' : `host in [${hosts.join(', ')}]`,
    methods === undefined ? 'any method' : `method in [${methods.join(', ')}]`,
    path === undefined ? 'any path' : `path ${Object.entries(path)[0]!.join(' ')}`,
  ];
  return `route "${route.name}" (first match: ${parts.join(', ')}${route.public ? ', public' : ''})`;
}

function stepLine(config: Config, step: TraceStep): string {
  switch (step.step) {
    case 'metadata':
      return 'ok   request for the RFC 9728 metadata document: answered by claimgate';
    case 'route':
      return step.ok
        ? `ok   ${routeWhy(config, step.route)}`
        : `FAIL route: ${step.reason} (${reasonInfo(step.reason!).title})`;
    case 'request':
      return `${mark(step.ok)} request: ${
        step.check === 'header-spellings'
          ? 'no other spelling of a header claimgate owns or reads'
          : step.check === 'method-override'
            ? 'no method-override header or parameter'
            : 'every header line was read'
      }`;
    case 'public':
      return 'ok   public route: no token needed (owned headers are stripped)';
    case 'token':
      return step.ok ? `ok   token found in ${step.carrier}` : `FAIL token: ${step.reason}`;
    case 'verify':
      if (step.via === 'introspection')
        return step.ok
          ? `ok   opaque token introspected at issuer "${step.issuer}": active` +
              (step.subject === undefined ? '' : `, sub ${step.subject}`)
          : `FAIL introspection: ${step.reason} (${reasonInfo(step.reason!).title})` +
              (step.issuer === undefined ? '' : ` [issuer "${step.issuer}"]`);
      return step.ok
        ? `ok   verified for issuer "${step.issuer}" (signature, alg, typ, iss, aud, exp/nbf/iat, access-token marker)` +
            (step.subject === undefined ? '' : `, sub ${step.subject}`)
        : `FAIL verification: ${step.reason} (${reasonInfo(step.reason!).title})` +
            (step.issuer === undefined ? '' : ` [issuer "${step.issuer}"]`);
    case 'enrichment':
      return step.ok ? 'ok   enrichment lookups answered' : 'FAIL enrichment: a lookup could not be answered';
    case 'binding':
      return step.ok
        ? `ok   sender constraint: ${step.kind === 'bearer' ? 'bearer token (no binding required)' : `${step.kind} proof checked`}`
        : `FAIL sender constraint (${step.kind}): ${step.reason} (${reasonInfo(step.reason!).title})`;
    case 'requirement':
      return `${mark(step.ok)} requirement ${step.at}`;
  }
}

export function renderExplain(config: Config, report: ExplainReport): string[] {
  const { request, decision } = report;
  const lines = [`request: ${request.method} ${request.host}${request.path}`];
  if (report.tokenIssuer !== undefined) lines.push(`token claims iss: ${report.tokenIssuer}`);
  if (report.keys !== undefined) {
    const s = report.keys.state;
    lines.push(
      `keys of issuer "${report.keys.issuer}": ${s.usable ? 'usable' : 'UNUSABLE'}, ${s.keyCount} key(s)` +
        `${s.jwksUri ? ` from ${s.jwksUri}` : ''}${s.lastError ? `; last error: ${s.lastError}` : ''}`,
    );
    for (const note of report.keys.notes) lines.push(`  key source: ${note}`);
  } else if (report.tokenIssuer !== undefined) lines.push('keys: no configured issuer has this iss (none fetched)');
  lines.push('steps:');
  for (const step of report.steps) lines.push(`  ${stepLine(config, step)}`);
  for (const h of decision.headersToSet) lines.push(`upstream header: ${h.name}: ${h.value}`);
  if (decision.headersToRemove.length > 0) lines.push(`upstream removes: ${decision.headersToRemove.join(', ')}`);
  lines.push(
    `answer: ${decision.outcome.toUpperCase()} ${decision.status} ${decision.reason} (${decision.reasonText})` +
      (decision.requirement === undefined ? '' : ` at require.${decision.requirement}`),
  );
  if (decision.challenge !== undefined) lines.push(`WWW-Authenticate: ${decision.challenge}`);
  return lines;
}
