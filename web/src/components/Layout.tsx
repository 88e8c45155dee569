import { NavLink, Outlet, useNavigate } from "react-router";
import { useAuth } from "../auth/AuthProvider";
import { logOut } from "../auth/session";
import { useLiveUpdates } from "../lib/events";

const LINKS = [
  { to: "/", label: "Dashboard", end: true },
  { to: "/jobs", label: "Jobs" },
  { to: "/builds", label: "Builds" },
  { to: "/environments", label: "Environments" },
  { to: "/workers", label: "Workers" },
];

export function Layout() {
  const { user, can, signedIn } = useAuth();
  const navigate = useNavigate();
  useLiveUpdates(signedIn);
  const signOut = async () => {
    await logOut();
    navigate("/login");
  };
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/" className="brand" aria-label="Solvyd home">
          <img src="/favicon.svg" alt="" width={22} height={22} /> Solvyd
        </NavLink>
        <nav aria-label="Main">
          <ul>
            {LINKS.map((link) => (
              <li key={link.to}>
                <NavLink to={link.to} end={link.end}>
                  {link.label}
                </NavLink>
              </li>
            ))}
            {can("admin") && (
              <>
                <li>
                  <NavLink to="/users">Users</NavLink>
                </li>
                <li>
                  <NavLink to="/plugins">Plugins</NavLink>
                </li>
              </>
            )}
            <li>
              <NavLink to="/tokens">Tokens</NavLink>
            </li>
          </ul>
        </nav>
        <div className="whoami">
          {user && (
            <span className="muted" data-testid="whoami">
              {user.username} · {user.role}
            </span>
          )}
          <button type="button" className="button secondary" onClick={signOut}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
