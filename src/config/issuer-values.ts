/**
 * The exact `iss` values one issuer entry accepts: its `issuer`, its `issuer_aliases` (several domains
 * in front of one tenant, one key set), or one value per allowed tenant of a `{tenant}` template.
 * Expanding templates at load keeps issuer selection an exact map lookup: a token naming a tenant that
 * is not listed is refused before any key is fetched.
 */

export const TENANT_PLACEHOLDER = '{tenant}';

export interface IssuerValueSource {
  readonly issuer: string;
  readonly issuer_aliases?: readonly string[] | undefined;
  readonly tenants?: readonly string[] | undefined;
}

export interface IssValue {
  readonly iss: string;
  /** The tenant this value stands for (templates only); the token's tenant claim must equal it. */
  readonly tenant?: string;
}

export function expandIssValues(source: IssuerValueSource): readonly IssValue[] {
  if (source.issuer.includes(TENANT_PLACEHOLDER)) {
    return (source.tenants ?? []).map((tenant) => ({ iss: source.issuer.replace(TENANT_PLACEHOLDER, tenant), tenant }));
  }
  return [source.issuer, ...(source.issuer_aliases ?? [])].map((iss) => ({ iss }));
}

export function issValuesOf(source: IssuerValueSource): readonly string[] {
  return expandIssValues(source).map((v) => v.iss);
}
