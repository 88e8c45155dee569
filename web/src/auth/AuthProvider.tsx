// Who is signed in, and what their role lets them do. The role only decides which buttons are
// shown: the server checks every request on its own.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { api, unwrap, type User } from "../api/client";
import { onSessionChange, readSession } from "./session";

export type Role = User["role"];
const RANK: Record<Role, number> = { viewer: 0, developer: 1, admin: 2 };

export function roleAtLeast(role: Role | undefined, needed: Role): boolean {
  return role !== undefined && RANK[role] >= RANK[needed];
}

interface AuthState {
  signedIn: boolean;
  user: User | undefined;
  loading: boolean;
  can: (needed: Role) => boolean;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [signedIn, setSignedIn] = useState(() => readSession() !== null);
  const queryClient = useQueryClient();
  useEffect(
    () =>
      onSessionChange((now) => {
        setSignedIn(now);
        // Nothing of the last user's may show to the next one.
        if (!now) queryClient.clear();
      }),
    [queryClient],
  );
  const me = useQuery({
    queryKey: ["me"],
    queryFn: async () => unwrap(await api.GET("/api/v1/users/me")),
    enabled: signedIn,
    staleTime: 60_000,
  });
  const user = signedIn ? me.data : undefined;
  const value: AuthState = {
    signedIn,
    user,
    loading: signedIn && me.isPending,
    can: (needed) => roleAtLeast(user?.role, needed),
  };
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth outside AuthProvider");
  return state;
}
