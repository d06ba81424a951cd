// Who a request is from, whichever way they proved it (an SSO session
// cookie or a bearer token): every route asks this one question.

export interface Identity {
  id: string;
  email: string;
  name: string;
  /** group names from the identity provider, where it sends them */
  groups?: string[];
}
