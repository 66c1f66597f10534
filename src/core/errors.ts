// The one way to turn anything thrown into the text shown to a user (host, webview, CLI, worker). Pure.

/** `err.message` for an Error, the value as text for anything else thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
