// The one form a signed-out person sees: the admin token or a tenant's API key.
import { useState } from "hono/jsx/dom";
import { ApiError, signIn } from "../api.ts";

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(token.trim());
      onSignedIn();
    } catch (caught) {
      setError(caught instanceof ApiError && caught.status === 401 ? "That token is not valid: paste the admin token isobox start printed, or a tenant's API key." : (caught as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1>Isobox</h1>
      <form onSubmit={submit}>
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" value={token} onInput={(e: Event) => setToken((e.target as HTMLInputElement).value)} required />
        <button type="submit" disabled={busy}>Sign in</button>
        {error ? <p class="error" role="alert">{error}</p> : null}
      </form>
      <p class="muted">The admin token is in the output of <code>isobox start</code> (and in <code>.isobox/admin-token</code>); a tenant's API key signs in to that tenant only.</p>
    </main>
  );
}
