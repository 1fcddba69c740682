// Signed in or not, then the view the URL names.
import { useEffect, useState } from "hono/jsx/dom";
import { currentSession, whenSignedOut, type Principal } from "./api.ts";
import { go, tenantHref, useRoute, type Route } from "./route.ts";
import { Layout } from "./views/layout.tsx";
import { SignIn } from "./views/sign-in.tsx";
import { FunctionsView } from "./views/functions.tsx";
import { FunctionView } from "./views/function.tsx";
import { RunsView } from "./views/runs.tsx";
import { RunView } from "./views/run.tsx";
import { JobsView } from "./views/jobs.tsx";
import { JobView } from "./views/job.tsx";
import { SchedulesView } from "./views/schedules.tsx";
import { WebhooksView } from "./views/webhooks.tsx";
import { SecretsView } from "./views/secrets.tsx";
import { LogsView } from "./views/logs.tsx";
import { TenantsView } from "./views/tenants.tsx";
import { TenantView } from "./views/tenant.tsx";

type Session = { state: "checking" } | { state: "out" } | { state: "in"; principal: Principal };

export function App() {
  const [session, setSession] = useState<Session>({ state: "checking" });
  const route = useRoute();
  const check = async () => {
    const principal = await currentSession().catch(() => undefined);
    setSession(principal ? { state: "in", principal } : { state: "out" });
  };
  useEffect(() => {
    whenSignedOut(() => setSession({ state: "out" }));
    void check();
  }, []);
  if (session.state === "checking") return <p class="muted">Loading…</p>;
  if (session.state === "out") return <SignIn onSignedIn={check} />;
  const principal = session.principal;
  if (route.view === "home") {
    go(tenantHref(principal.kind === "tenant" ? principal.tenant : "default", "functions"));
    return null;
  }
  return (
    <Layout principal={principal} route={route} onSignedOut={() => setSession({ state: "out" })}>
      <View route={route} principal={principal} />
    </Layout>
  );
}

function View({ route, principal }: { route: Route; principal: Principal }) {
  switch (route.view) {
    case "home":
      return null;
    case "tenants":
      if (route.name) return <TenantView name={route.name} principal={principal} />;
      return principal.kind === "admin" ? <TenantsView /> : <p class="error" role="alert">Tenants are managed with the admin token.</p>;
    case "functions":
      return route.id ? <FunctionView key={`${route.tenant}/${route.id}`} tenant={route.tenant} name={route.id} /> : <FunctionsView tenant={route.tenant} />;
    case "runs":
      return route.id ? <RunView key={route.id} tenant={route.tenant} id={route.id} /> : <RunsView tenant={route.tenant} params={route.params} />;
    case "jobs":
      return route.id ? <JobView key={route.id} tenant={route.tenant} id={route.id} /> : <JobsView tenant={route.tenant} params={route.params} />;
    case "schedules":
      return <SchedulesView tenant={route.tenant} params={route.params} />;
    case "webhooks":
      return <WebhooksView tenant={route.tenant} params={route.params} />;
    case "secrets":
      return <SecretsView tenant={route.tenant} />;
    case "logs":
      return <LogsView tenant={route.tenant} params={route.params} />;
  }
}
