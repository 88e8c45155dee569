// The server's rules for usernames and passwords (schemas/users.py, schemas/auth.py), checked
// before sending so the form can say what is wrong next to the field. The server checks again.
import type { ErrorDetail } from "../../api/client";
import type { Role } from "../../auth/AuthProvider";

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;
export const MAX_USERNAME_LENGTH = 200;
const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]*$/;

export const ROLES: readonly Role[] = ["viewer", "developer", "admin"];

export const ROLE_HELP: Record<Role, string> = {
  viewer: "sees jobs, builds, logs and workers",
  developer: "also creates and edits jobs, triggers, cancels and retries builds",
  admin: "also manages users, workers, secrets and agent tokens",
};

export const PASSWORD_RULES =
  `At least ${MIN_PASSWORD_LENGTH} characters (at most ${MAX_PASSWORD_LENGTH}). ` +
  "Spaces and any other characters are allowed; a long passphrase is best.";

export const USERNAME_RULES =
  "Letters, digits and . _ @ + -, starting with a letter or digit.";

/** Characters as the server counts them (code points, not UTF-16 units). */
function length(text: string): number {
  return [...text].length;
}

export function usernameProblem(username: string): string | null {
  if (username.length === 0) return "Enter a username.";
  if (length(username) > MAX_USERNAME_LENGTH)
    return `A username has at most ${MAX_USERNAME_LENGTH} characters.`;
  if (/\s/.test(username)) return "A username cannot contain spaces.";
  if (!USERNAME_PATTERN.test(username))
    return "Use letters, digits and . _ @ + - only, starting with a letter or digit.";
  return null;
}

export function passwordProblem(password: string): string | null {
  if (password.length === 0) return "Enter a password.";
  const n = length(password);
  if (n < MIN_PASSWORD_LENGTH)
    return `The password is too short: ${n} of at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (n > MAX_PASSWORD_LENGTH)
    return `The password is too long: at most ${MAX_PASSWORD_LENGTH} characters.`;
  return null;
}

export interface PasswordFields {
  password: string;
  confirm: string;
}

export type FieldErrors<K extends string> = Partial<Record<K, string>>;

export function validatePasswordPair({ password, confirm }: PasswordFields): FieldErrors<"password" | "confirm"> {
  const errors: FieldErrors<"password" | "confirm"> = {};
  const problem = passwordProblem(password);
  if (problem) errors.password = problem;
  else if (confirm !== password) errors.confirm = "The two passwords differ.";
  return errors;
}

export interface NewUserInput extends PasswordFields {
  username: string;
  role: Role;
}

export type NewUserField = "username" | "role" | "password" | "confirm";

/** What is wrong with a new user's form, field by field; empty when it can be sent. */
export function validateNewUser(input: NewUserInput): FieldErrors<NewUserField> {
  const errors: FieldErrors<NewUserField> = { ...validatePasswordPair(input) };
  const problem = usernameProblem(input.username.trim());
  if (problem) errors.username = problem;
  if (!ROLES.includes(input.role)) errors.role = "Choose a role.";
  return errors;
}

export function hasErrors(errors: Record<string, string | undefined>): boolean {
  return Object.values(errors).some(Boolean);
}

/** The server's 422 details ("field": "username") as field errors of a form. */
export function fieldErrorsFrom<K extends string>(
  details: ErrorDetail[],
  fields: readonly K[],
): FieldErrors<K> {
  const errors: FieldErrors<K> = {};
  for (const detail of details) {
    const field = fields.find((f) => f === detail.field);
    if (field && detail.message) errors[field] = capitalise(detail.message);
  }
  return errors;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
