// Users (admins): who may sign in, with which role; and the agent registration tokens.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type User } from "../../api/client";
import { useAuth } from "../../auth/AuthProvider";
import { ErrorMessage, Loading } from "../../components/Feedback";
import { AgentTokensSection } from "./AgentTokensSection";
import { CreateUserForm, type NewUser } from "./CreateUserForm";
import { UsersTable } from "./UsersTable";
import type { UserChange } from "./UserRow";
import "../tokens/tokens.css";
import "./users.css";

const KEY = ["users"] as const;

export function UsersPage() {
  const { user: me } = useAuth();
  const queryClient = useQueryClient();
  const users = useQuery({
    queryKey: KEY,
    queryFn: async () => unwrap(await api.GET("/api/v1/users")).items,
  });

  const replace = (updated: User) => {
    queryClient.setQueryData<User[]>(KEY, (old) =>
      old?.map((u) => (u.id === updated.id ? updated : u)),
    );
    if (updated.id === me?.id) void queryClient.invalidateQueries({ queryKey: ["me"] });
  };

  const update = async (id: string, change: UserChange) => {
    const updated = unwrap(
      await api.PATCH("/api/v1/users/{user_id}", { params: { path: { user_id: id } }, body: change }),
    );
    replace(updated);
  };

  const create = async (input: NewUser) => {
    const created = unwrap(await api.POST("/api/v1/users", { body: input }));
    await queryClient.invalidateQueries({ queryKey: KEY });
    return created;
  };

  return (
    <div className="acct users-page">
      <div className="page-head">
        <h1>Users</h1>
      </div>
      <p className="muted role-legend">
        <strong>viewer</strong> sees jobs, builds, logs and workers; <strong>developer</strong>{" "}
        also creates and edits jobs and triggers, cancels and retries builds; <strong>admin</strong>{" "}
        also manages users, workers, secrets and agent tokens.
      </p>
      {users.isPending ? (
        <Loading what="Loading users" />
      ) : users.isError ? (
        <ErrorMessage error={users.error} />
      ) : (
        <UsersTable users={users.data} meId={me?.id} onUpdate={update} />
      )}
      <CreateUserForm onCreate={create} />
      <AgentTokensSection />
    </div>
  );
}
