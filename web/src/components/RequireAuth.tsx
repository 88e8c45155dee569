import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { useAuth, type Role } from "../auth/AuthProvider";
import { Loading } from "./Feedback";

/** Signed-out visitors go to the login page, and come back here after it. */
export function RequireAuth({ children, role }: { children: ReactNode; role?: Role }) {
  const { signedIn, loading, can } = useAuth();
  const location = useLocation();
  if (!signedIn) {
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  }
  if (loading) return <Loading />;
  if (role && !can(role)) {
    return (
      <p className="error" role="alert">
        This page needs the {role} role.
      </p>
    );
  }
  return <>{children}</>;
}
