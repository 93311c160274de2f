import { html, useState } from "../lib/html.js";
import { signIn } from "../lib/api.js";
import { ErrorNotice, Field } from "../lib/ui.js";

/** The admin token, exchanged once for a session cookie; the field is cleared afterwards. */
export function SignIn({ onSignedIn }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await signIn(token.trim());
      setToken("");
      onSignedIn(session);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main" class="signin">
    <h1>Sign in to fedops</h1>
    <form onSubmit=${submit}>
      <${Field} id="admin-token" label="Admin token" hint="The services' FEDOPS_ADMIN_TOKEN; with fedops up, the file admin-token in its data directory (.fedops/admin-token).">
        ${(props) => html`<input ...${props} type="password" autocomplete="off" required value=${token} onInput=${(e) => setToken(e.target.value)} />`}
      <//>
      <${ErrorNotice} error=${error} />
      <button type="submit" class="primary" disabled=${busy}>Sign in</button>
    </form>
  </main>`;
}
