// Something made on first use and shared by every caller after, unless the
// making failed: then the next caller tries again (a module still being
// deployed, an issuer that was away), instead of every caller failing for ever.
export function onceUntilFailure<T>(make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= make().catch((error: unknown) => {
      pending = undefined;
      throw error;
    }));
}
