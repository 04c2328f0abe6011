/**
 * The small part of `oidc-provider` (v9, ships no type declarations) that the test IdP uses.
 * Typed loosely on purpose: the provider is a peer under test conditions, not code we call widely.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface ProviderClient {
    readonly clientId: string;
  }

  export interface ResourceServerInfo {
    scope: string;
    audience?: string;
    accessTokenFormat?: 'opaque' | 'jwt';
    accessTokenTTL?: number;
    jwt?: { sign?: { alg?: string; kid?: string } };
  }

  export interface ProviderConfiguration {
    clients?: Record<string, unknown>[];
    jwks?: { keys: Record<string, unknown>[] };
    cookies?: { keys?: string[] };
    features?: Record<string, unknown>;
    ttl?: Record<string, number | ((ctx: unknown, token: unknown, client: ProviderClient) => number)>;
    [key: string]: unknown;
  }

  export class Provider {
    constructor(issuer: string, configuration?: ProviderConfiguration);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
    readonly issuer: string;
  }

  export const errors: {
    InvalidTarget: new (description?: string) => Error;
    [name: string]: new (...args: never[]) => Error;
  };

  export default Provider;
}
