// A sign-in in progress travels with the browser, not in Redis: its state,
// PKCE verifier, nonce, redirect URI and return URL are sealed (JWE,
// dir/A256GCM: encrypted and authenticated) into one cookie per flow, sent
// only to the callback path. The key is derived from a secret every instance
// shares, so any instance can open what another sealed. Pure.
//
// A small index cookie (on every path, so that the start of a sign-in sees
// it) lists the flows in progress, oldest first, with their sizes: a new flow
// drops the oldest ones so that a browser never holds more than ten, and the
// callback never receives more than fits in a request's headers.
import { openClaims, sealClaims, sealingKey } from '../shared/sealed-claims.ts';

export interface LoginState {
  /** the OAuth2 `state`, also the flow's name */
  state: string;
  codeVerifier: string;
  /** OIDC only */
  nonce?: string;
  /** the callback URL sent to SSO; the code exchange must name the same one */
  redirectUri: string;
  /** absolute: origin, path and query exactly as first requested */
  returnTo: string;
}

export interface OpenedLoginState extends LoginState {
  /** epoch milliseconds */
  expiresAt: number;
}

export const maxFlows = 10;
/** browsers keep a cookie of at most 4096 bytes (name and value); a margin below that */
export const maxFlowCookieBytes = 4000;
/** all flow cookies together, so that the callback's headers stay well under the 16 KiB Node accepts */
export const maxFlowBytes = 8192;

const flowIdLength = 16;
const wellFormedState = /^[A-Za-z0-9_-]{22,128}$/;

/** The key for sealing login states, domain-separated from every other use of the secret. */
export function loginStateKey(secret: string): Uint8Array {
  return sealingKey(secret, 's3proxy login state v1');
}

export function isWellFormedState(state: string): boolean {
  return wellFormedState.test(state);
}

/** The flow's short name in cookie names: 96 bits of the state, so flows do not collide. */
export function flowId(state: string): string {
  return state.slice(0, flowIdLength);
}

export function flowCookieName(sessionCookieName: string, id: string): string {
  return `${sessionCookieName}_login_${id}`;
}

export function indexCookieName(sessionCookieName: string): string {
  return `${sessionCookieName}_logins`;
}

export async function sealLoginState(key: Uint8Array, login: LoginState, ttlSeconds: number, now = Date.now()): Promise<string> {
  return sealClaims(key, { ...login }, ttlSeconds, now);
}

/** undefined when not sealed with this key, tampered with, expired or malformed. */
export async function openLoginState(key: Uint8Array, sealed: string, now = Date.now()): Promise<OpenedLoginState | undefined> {
  const payload = await openClaims(key, sealed, now);
  if (!payload) return undefined;
  const { state, codeVerifier, nonce, redirectUri, returnTo, exp } = payload;
  if (typeof state !== 'string' || typeof codeVerifier !== 'string' || typeof redirectUri !== 'string' || typeof returnTo !== 'string') {
    return undefined;
  }
  if (nonce !== undefined && typeof nonce !== 'string') return undefined;
  return { state, codeVerifier, ...(nonce === undefined ? {} : { nonce }), redirectUri, returnTo, expiresAt: exp * 1000 };
}

/**
 * Where to return, longest first: the whole URL, then without its query,
 * then the root. Only a URL too long for a cookie loses anything.
 */
export function returnCandidates(origin: string, target: string): string[] {
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  return [...new Set([origin + target, origin + path, `${origin}/`])];
}

export interface FlowEntry {
  id: string;
  /** bytes of the flow cookie's name=value */
  size: number;
}

const entryPattern = /^([A-Za-z0-9_-]{16})([0-9a-z]{1,4})$/;

/** The index cookie's entries, oldest first; anything malformed counts as no entry. */
export function parseFlowIndex(value: string | undefined): FlowEntry[] {
  if (!value) return [];
  const entries: FlowEntry[] = [];
  for (const part of value.split('.')) {
    const match = entryPattern.exec(part);
    if (!match) continue;
    if (entries.some((entry) => entry.id === match[1])) continue;
    entries.push({ id: match[1]!, size: Number.parseInt(match[2]!, 36) });
  }
  // A browser can send anything; more than the limit was never written by the proxy.
  return entries.slice(-maxFlows);
}

export function formatFlowIndex(entries: readonly FlowEntry[]): string {
  return entries.map((entry) => entry.id + entry.size.toString(36)).join('.');
}

/** Adds a flow; the oldest go while there are more than ten or their cookies together grow too large. */
export function admitFlow(entries: readonly FlowEntry[], next: FlowEntry): { kept: FlowEntry[]; dropped: FlowEntry[] } {
  const kept = entries.filter((entry) => entry.id !== next.id);
  const dropped: FlowEntry[] = [];
  const total = () => kept.reduce((sum, entry) => sum + entry.size, next.size);
  while (kept.length > 0 && (kept.length + 1 > maxFlows || total() > maxFlowBytes)) dropped.push(kept.shift()!);
  return { kept: [...kept, next], dropped };
}

export function withoutFlow(entries: readonly FlowEntry[], id: string): FlowEntry[] {
  return entries.filter((entry) => entry.id !== id);
}
