import { Route, Routes } from "react-router";
import { Layout } from "./components/Layout";
import { RequireAuth } from "./components/RequireAuth";
import { BuildDetailPage } from "./pages/builds/BuildDetailPage";
import { BuildsPage } from "./pages/builds/BuildsPage";
import { DashboardPage } from "./pages/dashboard/DashboardPage";
import { EnvironmentPage } from "./pages/environments/EnvironmentPage";
import { EnvironmentsPage } from "./pages/environments/EnvironmentsPage";
import { JobDetailPage } from "./pages/jobs/JobDetailPage";
import { JobEditPage } from "./pages/jobs/JobEditPage";
import { JobsPage } from "./pages/jobs/JobsPage";
import { LoginPage } from "./pages/LoginPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { PluginsPage } from "./pages/plugins/PluginsPage";
import { TokensPage } from "./pages/tokens/TokensPage";
import { UsersPage } from "./pages/users/UsersPage";
import { WorkersPage } from "./pages/workers/WorkersPage";

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireAuth>
            <Layout />
          </RequireAuth>
        }
      >
        <Route index element={<DashboardPage />} />
        <Route path="jobs" element={<JobsPage />} />
        <Route path="jobs/new" element={<JobEditPage />} />
        <Route path="jobs/:jobId" element={<JobDetailPage />} />
        <Route path="jobs/:jobId/edit" element={<JobEditPage />} />
        <Route path="builds" element={<BuildsPage />} />
        <Route path="builds/:buildId" element={<BuildDetailPage />} />
        <Route path="environments" element={<EnvironmentsPage />} />
        <Route path="environments/:name" element={<EnvironmentPage />} />
        <Route path="workers" element={<WorkersPage />} />
        <Route
          path="users"
          element={
            <RequireAuth role="admin">
              <UsersPage />
            </RequireAuth>
          }
        />
        <Route
          path="plugins"
          element={
            <RequireAuth role="admin">
              <PluginsPage />
            </RequireAuth>
          }
        />
        <Route path="tokens" element={<TokensPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
