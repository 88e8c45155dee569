import type { User } from "../../api/client";
import { UserRow, type UserChange } from "./UserRow";

interface Props {
  users: User[];
  /** The signed-in admin's id, to mark their own row. */
  meId: string | undefined;
  onUpdate: (id: string, change: UserChange) => Promise<void>;
}

export function UsersTable({ users, meId, onUpdate }: Props) {
  if (users.length === 0) {
    return <p className="muted empty">No users yet. Add the first one below.</p>;
  }
  return (
    <div className="table-wrap users-table">
      <table>
        <caption className="visually-hidden">Users</caption>
        <thead>
          <tr>
            <th scope="col">Username</th>
            <th scope="col">Role</th>
            <th scope="col">Status</th>
            <th scope="col" className="hide-narrow">
              Created
            </th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {users.map((user) => (
            <UserRow
              key={user.id}
              user={user}
              isSelf={user.id === meId}
              onUpdate={(change) => onUpdate(user.id, change)}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}
